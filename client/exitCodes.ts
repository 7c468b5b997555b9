import type { Outcome } from '../workflows/definitions';

/** Exit codes scripts can rely on. Documented in the README and in `gameday --help`. */
export const exitCodes = {
  passed: 0,
  failed: 1,
  usage: 2,
  aborted: 3,
  'not-started': 4,
  'rollback-stuck': 5,
  /** Temporal unreachable, the workflow failed unexpectedly, … */
  error: 6,
} as const;

export function exitCodeFor(outcome: Outcome | undefined): number {
  return outcome === undefined ? exitCodes.error : exitCodes[outcome];
}

export const exitCodeHelp = `Exit codes:
  0 passed   1 failed   2 usage error or invalid plan   3 aborted
  4 not started (steady state did not hold)   5 rollback stuck   6 error (e.g. Temporal unreachable)`;

/** An error whose message is for the user, with the exit code to leave with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.error,
  ) {
    super(message);
  }
}
