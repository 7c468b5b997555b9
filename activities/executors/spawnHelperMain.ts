// The spawn helper process (see spawnHelper.ts): runs each command it is sent and sends back what happened.
// It loads nothing but Node's child_process, so it stays small and its event loop does nothing else.
import type { HelperReply, HelperRequest } from './spawnHelper';
import { execFileOutcome } from './spawning';

process.on('message', (message: HelperRequest) => {
  void execFileOutcome(message.request).then((outcome) => {
    const reply: HelperReply = { id: message.id, outcome };
    // The worker is gone (disconnected): the command ran all the same, as it would have under the worker.
    if (process.connected) process.send?.(reply);
  });
});
// Once the worker is gone, the helper ends when its last running command has: the channel no longer holds it.
process.on('disconnect', () => process.removeAllListeners('message'));
// A Ctrl-C or a stop signal meant for the worker reaches its whole process group: the helper stays for the
// rollbacks the worker still runs in its shutdown grace time, and ends with the worker.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
