import { z } from 'zod';
import { duration } from '../../plan/duration';
import { firstGroup, groupCount, matches } from '../../plan/regex';
import { commandEnvironment, commandLine, regexPattern, withEnvironment } from '../../plan/safeValues';
import { CommandTimedOut, couldNotRunExitCodes } from '../executors/executor';
import type { ValueBound } from '../../workflows/definitions';
import { couldNotAsk, type CheckKind, type ProbeResult } from './contract';
import { outputExcerpt } from './outputExcerpt';

const patternHasOneGroup = (pattern: string) => {
  try {
    return groupCount(pattern) === 1;
  } catch {
    return true; // regexPattern reports why it does not compile
  }
};

/** A number read from a command's output, within bounds: the `value` of command and kubernetes exec checks. */
export const outputNumber = z
  .strictObject({
    pattern: regexPattern
      .refine((p) => patternHasOneGroup(p), 'must have exactly one capture group')
      .describe('the first capture group is the number, e.g. "lag (\\d+)"'),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((v) => v.min !== undefined || v.max !== undefined, 'give min, max or both')
  .describe('a number read from the output, which must lie within min..max');

/** What a command must answer: its exit code, output matching a pattern, a number within bounds. */
export const expectedAnswer = {
  exitCode: z.number().int().min(0).max(255).default(0),
  outputMatches: regexPattern.optional().describe('RE2 regular expression the output must match'),
  value: outputNumber.optional(),
};

const spec = z
  .strictObject({
    argv: commandLine.describe('the command and its arguments (no shell)'),
    env: commandEnvironment
      .optional()
      .describe('environment variables it runs with, e.g. { ETCDCTL_API: "3" } (through env(1), no shell)'),
    timeout: duration({ min: '100ms', max: '10m' }).default(10_000),
    ...expectedAnswer,
  })
  .refine((s) => s.env === undefined || !(s.argv[0] ?? '').includes('='), {
    path: ['argv', 0],
    message: 'with env, the command itself must not contain "=" (env(1) would take it for a variable)',
  });
type Spec = z.infer<typeof spec>;

export const commandCheck: CheckKind<Spec> = {
  key: 'command',
  description: 'A command must exit with the expected code (and print output matching a pattern).',
  answeredNo:
    'the command ran and exited with another code, printed output that does not match, or did not finish ' +
    'within its timeout (killed).',
  couldNotAsk:
    'the command could not be run: not installed or not executable (exit 127 or 126, which gameday reserves ' +
    'for that, as shells do), the SSH connection or channel to the host failed, or the connection stopped answering.',
  spec,
  valueBound: (s) => numberBound(s.value),
  describe: (s) => `\`${withEnvironment(s.argv, s.env).join(' ')}\`${describeAnswer(s)}`,

  async probe(ctx, s) {
    let result;
    try {
      result = await ctx.exec.run(withEnvironment(s.argv, s.env), { timeoutMs: s.timeout });
    } catch (error) {
      // A command that overran its timeout was asked and did not answer in time; anything else thrown means
      // it never ran (evaluate reports that as "could not ask").
      if (error instanceof CommandTimedOut) return { ok: false, detail: error.message };
      throw error;
    }
    const output = `${result.stdout}${result.stderr}`.trim();
    if (couldNotRunExitCodes.includes(result.exitCode)) {
      const why = result.exitCode === 127 ? 'command not found' : 'not executable';
      return {
        ...couldNotAsk(
          `${s.argv[0] ?? ''} on ${ctx.exec.host} exited ${result.exitCode} (${why}): ${outputExcerpt(output)}`,
        ),
        output,
      };
    }
    return judgeAnswer({ exitCode: result.exitCode, output }, s);
  },
};

/** The answer a command gave: its exit code and its output (stdout then stderr). */
export interface CommandAnswer {
  readonly exitCode: number;
  readonly output: string;
}

type ExpectedAnswer = Pick<Spec, 'exitCode' | 'outputMatches' | 'value'>;

/**
 * Whether a command that ran answered as expected; its value is the number read, else its exit code. The
 * result carries the whole output (kept where it does not hold). Pure.
 */
export function judgeAnswer(answer: CommandAnswer, s: ExpectedAnswer): ProbeResult {
  return { ...judgeOutput(answer, s), output: answer.output };
}

function judgeOutput({ exitCode, output }: CommandAnswer, s: ExpectedAnswer): ProbeResult {
  if (exitCode !== s.exitCode) {
    return {
      ok: false,
      value: exitCode,
      detail: `exited ${exitCode}, expected ${s.exitCode}: ${outputExcerpt(output)}`,
    };
  }
  if (s.outputMatches !== undefined && !matches(s.outputMatches, output)) {
    return {
      ok: false,
      value: exitCode,
      detail: `output does not match /${s.outputMatches}/: ${outputExcerpt(output)}`,
    };
  }
  if (s.value !== undefined) return judgeNumber(output, s.value);
  return { ok: true, value: exitCode, detail: `exited ${exitCode}` };
}

/** Plain words of what a command must answer, after "`argv`". */
export function describeAnswer(s: ExpectedAnswer): string {
  return (
    ` exits ${s.exitCode}` +
    (s.outputMatches ? ` printing /${s.outputMatches}/` : '') +
    (s.value ? `, /${s.value.pattern}/ ${bounds(s.value)}` : '')
  );
}

type NumberSpec = NonNullable<Spec['value']>;

function bounds({ min, max }: NumberSpec): string {
  if (min !== undefined && max !== undefined) return `within ${min}..${max}`;
  return min !== undefined ? `≥ ${min}` : `≤ ${String(max)}`;
}

/** The bounds of a number read from the output, for the report's plot (a command's value is otherwise its exit code). */
export function numberBound(spec: NumberSpec | undefined): ValueBound | undefined {
  if (spec === undefined) return undefined;
  return {
    ...(spec.min === undefined ? {} : { min: spec.min }),
    ...(spec.max === undefined ? {} : { max: spec.max }),
  };
}

/** Reads the number from the output and judges it; the number is the check's value (plotted, reported). */
function judgeNumber(output: string, spec: NumberSpec): ProbeResult {
  const text = firstGroup(spec.pattern, output);
  const number = text === undefined ? Number.NaN : Number(text);
  if (Number.isNaN(number)) {
    return { ok: false, detail: `no number for /${spec.pattern}/ in: ${outputExcerpt(output)}` };
  }
  const ok = (spec.min === undefined || number >= spec.min) && (spec.max === undefined || number <= spec.max);
  return { ok, value: number, detail: `read ${number}, expected ${bounds(spec)}` };
}
