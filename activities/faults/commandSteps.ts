import { runStep } from '../executors/hostCommand';
import type { CommandSteps, FaultKind } from './contract';

/**
 * A kind's inject, verify and rollback built from its commands as data: each is its one command, run on its
 * own; the worker sends the same commands together when it can (`faultSteps.ts`).
 */
export function commandSteps<Params, Saved>(
  commands: CommandSteps<Params, Saved>,
): Pick<FaultKind<Params, Saved>, 'commands' | 'inject' | 'verify' | 'rollback'> {
  return {
    commands,
    inject: (ctx, p, saved) => runStep(ctx.exec, commands.inject(p, saved, ctx)),
    verify: (ctx, p, saved) => runStep(ctx.exec, commands.read(p, saved, ctx)),
    rollback: (ctx, p, saved) => runStep(ctx.exec, commands.rollback(p, saved, ctx)),
  };
}
