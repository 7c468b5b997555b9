import type { z } from 'zod';
import type { Executor } from '../executors/executor';

export interface CheckContext {
  readonly exec: Executor;
  readonly signal?: AbortSignal;
}

/** What one probe saw. `ok` is the probe's own verdict; whether that was expected is decided by the caller. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  /** A number worth plotting: latency in ms, exit code, … */
  readonly value?: number;
}

/** One kind of steady-state probe, keyed in plans by its name (`http:`, `tcp:`, `command:`). */
export interface CheckKind<Spec> {
  readonly key: string;
  readonly description: string;
  readonly spec: z.ZodType<Spec>;
  describe(spec: Spec): string;
  probe(ctx: CheckContext, spec: Spec): Promise<ProbeResult>;
}

export function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
