import { randomBytes } from 'node:crypto';
import { ExecutorError, type CommandResult, type Executor, type RunOptions } from './executor';
import { quote, TrustedScript } from './shellQuote';

/**
 * One host command as data: an argv, or one of gameday's fixed scripts with its arguments, and what goes on its
 * standard input. As data, several can be sent to a host in one round trip (`runInOrder`).
 */
export type HostCommand =
  | { readonly argv: readonly string[]; readonly input?: string }
  | { readonly script: TrustedScript; readonly args: readonly string[]; readonly input?: string };

/** A host command and how to read its answer: `judge` returns what it found or throws, naming the host. */
export interface CommandStep<T> {
  readonly command: HostCommand;
  judge(result: CommandResult): T;
}

/** The same command, its answer read on from what `step` found. */
export function thenJudge<T, U>(step: CommandStep<T>, next: (found: T) => U): CommandStep<U> {
  return { command: step.command, judge: (result) => next(step.judge(result)) };
}

export function runCommand(
  exec: Executor,
  command: HostCommand,
  options: RunOptions = {},
): Promise<CommandResult> {
  const withInput = command.input === undefined ? options : { ...options, input: command.input };
  return 'script' in command
    ? exec.runScript(command.script, command.args, withInput)
    : exec.run(command.argv, withInput);
}

/** Runs one step on its own: one round trip. */
export async function runStep<T>(exec: Executor, step: CommandStep<T>): Promise<T> {
  return step.judge(await runCommand(exec, step.command));
}

/** One command of a sequence sent together; a failing `gate` (non-zero exit) skips every command after it. */
export interface InOrder {
  readonly command: HostCommand;
  readonly gate?: boolean;
}

const argumentsOf = (command: HostCommand): readonly string[] =>
  'script' in command ? command.args : command.argv;

/**
 * The sequence as one fixed script: only gameday's own script texts and positional references (`"${7}"`) are
 * part of its text; every plan value is an argument, checked at the executor's boundary like any argv, and a
 * command's standard input travels as a base64 argument. Each command's output is framed by a marker ($1, fresh
 * per run) and its stderr and exit status follow it, so each reads back as if it had run alone.
 */
function sequenceScript(sequence: readonly InOrder[]): { script: TrustedScript; args: string[] } {
  const args: string[] = [];
  const ref = (value: string): string => {
    args.push(value);
    return `"\${${args.length + 1}}"`; // $1 is the marker
  };
  const lines = ['mark=$1', 'exec 3>&1', 'skip=', "nl='", "'"];
  for (const { command, gate } of sequence) {
    const input =
      command.input === undefined
        ? ''
        : `printf %s ${ref(Buffer.from(command.input).toString('base64'))} | base64 -d | `;
    const refs = argumentsOf(command).map(ref).join(' ');
    const run =
      'script' in command
        ? `sh -c ${quote(command.script.text)} ${quote(command.script.name)} ${refs}`
        : refs;
    const stdin = command.input === undefined ? ' </dev/null' : '';
    lines.push(
      'if [ -z "$skip" ]; then',
      `  printf '%s out\\n' "$mark"`,
      // The exit status follows stderr in the capture, which keeps stderr's trailing newlines.
      `  said=$( { ${input}${run}${stdin} 2>&1 1>&3 3>&-; printf '\\n%s' "$?"; } )`,
      '  rc=${said##*"$nl"}',
      `  printf '\\n%s err\\n%s\\n%s exit %s\\n' "$mark" "\${said%"$nl"*}" "$mark" "$rc"`,
      ...(gate === true ? ['  [ "$rc" -eq 0 ] || skip=1'] : []),
      'fi',
    );
  }
  return { script: new TrustedScript('gameday-in-order', `${lines.join('\n')}\n`), args };
}

/** Reads each command's framed answer back; a command after a failed gate has none (undefined). */
function framedResults(stdout: string, mark: string, count: number): (CommandResult | undefined)[] {
  const results: (CommandResult | undefined)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const start = stdout.indexOf(`${mark} out\n`, at);
    if (start < 0) break;
    const outEnd = stdout.indexOf(`\n${mark} err\n`, start);
    const errEnd = outEnd < 0 ? -1 : stdout.indexOf(`\n${mark} exit `, outEnd);
    const lineEnd = errEnd < 0 ? -1 : stdout.indexOf('\n', errEnd + 1);
    if (lineEnd < 0) break;
    const exitCode = Number(stdout.slice(errEnd + `\n${mark} exit `.length, lineEnd));
    results.push({
      stdout: stdout.slice(start + `${mark} out\n`.length, outEnd),
      stderr: stdout.slice(outEnd + `\n${mark} err\n`.length, errEnd),
      exitCode: Number.isInteger(exitCode) ? exitCode : -1,
    });
    at = lineEnd + 1;
  }
  return results;
}

/**
 * Runs the commands one after another on the host in one round trip, each with its own stdin, and returns
 * each one's answer as if it had run alone. Commands skipped by a failed gate have none; a sequence cut short
 * (the connection lost, the shell killed) throws, naming the host.
 */
export function runInOrder(
  exec: Executor,
  sequence: readonly InOrder[],
  options: RunOptions = {},
): Promise<(CommandResult | undefined)[]> {
  const { script, args } = sequenceScript(sequence);
  return runSequence(exec, sequence, script, args, options);
}

async function runSequence(
  exec: Executor,
  sequence: readonly InOrder[],
  script: TrustedScript,
  args: readonly string[],
  options: RunOptions = {},
): Promise<(CommandResult | undefined)[]> {
  const mark = `@gameday-${randomBytes(8).toString('hex')}`;
  const combined = await exec.runScript(script, [mark, ...args], options);
  const results = framedResults(combined.stdout, mark, sequence.length);
  const gateFailed = results.some((result, i) => sequence[i]?.gate === true && result?.exitCode !== 0);
  if (results.length < sequence.length && !gateFailed) {
    const said = combined.stderr.trim().split('\n').slice(-3).join(' ⏎ ');
    throw new ExecutorError(
      `commands sent together to ${exec.host} ended after ${results.length} of ${sequence.length} (exit ${combined.exitCode}): ${said}`,
    );
  }
  return sequence.map((_, i) => results[i]);
}

/** A step's answer from a sequence: judged, or an error when a gate before it stopped it. */
export function judged<T>(step: CommandStep<T>, result: CommandResult | undefined, host: string): T {
  if (result === undefined)
    throw new ExecutorError(`not run on ${host}: a command before it in the same round trip failed`);
  return step.judge(result);
}

/**
 * What one round trip may carry, in characters of its command line: SSH hands the whole line to the remote
 * shell as one argument, and Linux refuses any argument over 128 KiB (MAX_ARG_STRLEN). Larger sequences (a
 * partition of hundreds of peers × ports, whose rules travel as standard input) are sent one command at a time.
 */
export const oneTripBudget = 96 * 1024;

const sequenceLength = (script: TrustedScript, args: readonly string[]): number =>
  args.reduce((sum, arg) => sum + arg.length + 3, script.text.length);

/**
 * Steps in one round trip, judged in the order they ran, so the first failure is the one thrown; a step marked
 * `gate` stops the rest on the host when its command fails. Returns what the last step found. A sequence over
 * `oneTripBudget` runs step by step instead, judged the same way.
 */
export async function runStepsInOrder<T>(
  exec: Executor,
  before: readonly (CommandStep<unknown> & { readonly gate?: boolean })[],
  last: CommandStep<T>,
): Promise<T> {
  const sequence = [
    ...before.map((step) => ({ command: step.command, gate: step.gate === true })),
    { command: last.command },
  ];
  const { script, args } = sequenceScript(sequence);
  if (sequenceLength(script, args) > oneTripBudget) {
    for (const step of before) await runStep(exec, step);
    return runStep(exec, last);
  }
  const results = await runSequence(exec, sequence, script, args);
  before.forEach((step, i) => judged(step, results[i], exec.host));
  return judged(last, results[before.length], exec.host);
}
