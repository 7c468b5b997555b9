import { z } from 'zod';
import { duration } from '../../plan/duration';
import { commandArgument } from '../../plan/safeValues';
import { compiles, type CheckKind } from './contract';

const spec = z.strictObject({
  argv: z.array(commandArgument).min(1).describe('the command and its arguments (no shell)'),
  exitCode: z.number().int().min(0).max(255).default(0),
  outputMatches: z.string().refine(compiles, 'must be a valid regular expression').optional(),
  timeout: duration({ min: '100ms', max: '10m' }).default(10_000),
});
type Spec = z.infer<typeof spec>;

export const commandCheck: CheckKind<Spec> = {
  key: 'command',
  description: 'A command must exit with the expected code (and print output matching a pattern).',
  spec,
  describe: (s) =>
    `\`${s.argv.join(' ')}\` exits ${s.exitCode}` + (s.outputMatches ? ` printing /${s.outputMatches}/` : ''),

  async probe(ctx, s) {
    let result;
    try {
      result = await ctx.exec.run(s.argv, { timeoutMs: s.timeout });
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    const output = `${result.stdout}${result.stderr}`.trim();
    if (result.exitCode !== s.exitCode) {
      return {
        ok: false,
        value: result.exitCode,
        detail: `exited ${result.exitCode}, expected ${s.exitCode}: ${output.slice(0, 200)}`,
      };
    }
    if (s.outputMatches !== undefined && !new RegExp(s.outputMatches, 'm').test(output)) {
      return {
        ok: false,
        value: result.exitCode,
        detail: `output does not match /${s.outputMatches}/: ${output.slice(0, 200)}`,
      };
    }
    return { ok: true, value: result.exitCode, detail: `exited ${result.exitCode}` };
  },
};
