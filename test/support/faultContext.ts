// Fault kinds called directly, outside an activity, with the context an activity would give them.
import { LocalExecutor } from '../../activities/executors/local';
import { faultContext } from '../../activities/faults/context';
import type { FaultContext, FaultEnvironment } from '../../activities/faults/contract';
import { sleep } from './wait';

/** What a fault module gets inside an activity, for calling fault kinds directly (locally unless overridden). */
export function localFaultContext(tag = 'test', overrides: Partial<FaultEnvironment> = {}): FaultContext {
  return faultContext({
    exec: new LocalExecutor(),
    target: { group: 'here', kind: 'local', name: 'local' },
    fault: 'test-fault',
    tag,
    protectedPids: [process.pid],
    heartbeat: () => undefined,
    sleep,
    ...overrides,
  });
}
