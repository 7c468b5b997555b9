import { exitCodes } from './exitCodes';

type ExitCodeName = keyof typeof exitCodes;

/** What one subcommand's exit codes mean for it, by name (listed in the order of their numbers). */
export type ExitCodeMeanings = Partial<Record<ExitCodeName, string>>;

/** The codes of commands that only talk to Temporal: done, a mistake of the caller, Temporal unreachable. */
export const temporalCommandCodes = (done: string, usage: string): ExitCodeMeanings => ({
  passed: done,
  usage,
  error: 'error (e.g. Temporal unreachable)',
});

/** A game day's outcome as its exit code, as `gameday run` and `gameday status` give it. */
export const outcomeCodes: ExitCodeMeanings = {
  passed: 'passed',
  failed: 'failed',
  usage: 'usage error or invalid plan',
  aborted: 'aborted',
  'not-started': 'not started (steady state did not hold, or the worker refused the plan); nothing injected',
  'rollback-stuck': 'rollback stuck',
  error: 'error (e.g. Temporal unreachable, no worker on the task queue)',
};

/** For an option commander requires but does not mark in `--help`. */
export const required = (description: string): string => `${description} (required)`;

/**
 * The "Examples:" and "Exit codes:" blocks under a subcommand's `--help` (for `addHelpText('after', …)`), the
 * way gh and kubectl print them (indented `$ gameday …` lines); each lists only the codes its command returns.
 */
export function examplesAndExitCodes(examples: readonly string[], codes: ExitCodeMeanings): string {
  const codeLines = (Object.entries(codes) as [ExitCodeName, string][])
    .sort(([a], [b]) => exitCodes[a] - exitCodes[b])
    .map(([name, meaning]) => `  ${exitCodes[name]}  ${meaning}`);
  const exampleLines = examples.map((example) => `  $ ${example}`);
  return `\nExamples:\n${exampleLines.join('\n')}\n\nExit codes:\n${codeLines.join('\n')}`;
}
