import { Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
import { kubernetesLibrary } from './library';
import type { KubernetesClient } from './client';

/** What a command run in a pod's container answered. */
export interface PodExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv in a pod's container (no shell): what `kubectl exec` does, through the pods/exec subresource. */
export type ExecInPod = (
  namespace: string,
  pod: string,
  container: string,
  argv: readonly string[],
) => Promise<PodExecResult>;

const maxOutputBytes = 64 * 1024;
const execTimeoutMs = 20_000;

/** A stream keeping the first `maxOutputBytes` written to it. */
function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (size < maxOutputBytes) chunks.push(chunk.subarray(0, maxOutputBytes - size));
      size += chunk.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** The exit code in an exec's final status: 0 on Success, the code of a NonZeroExitCode failure. */
function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const code = status.details?.causes?.find((cause) => cause.reason === 'ExitCode')?.message;
  return code === undefined ? undefined : Number(code);
}

/**
 * The exec of a context: a non-zero exit is an answer (the result); a pod, container or exec that could not be
 * reached, or a command that does not finish in 20 s, is an error naming the pod, so it never reads as an answer.
 */
export function podExec(kube: KubernetesClient): ExecInPod {
  const exec = new (kubernetesLibrary().Exec)(kube.config);
  return async (namespace, pod, container, argv) => {
    const where = `${namespace}/${pod} (container ${container}, context ${kube.context})`;
    const stdout = collector();
    const stderr = collector();
    const finished = new Promise<V1Status>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`exec ${argv.join(' ')} in ${where} did not finish in ${execTimeoutMs / 1000} s`)),
        execTimeoutMs,
      );
      exec
        .exec(namespace, pod, container, [...argv], stdout.stream, stderr.stream, null, false, (status) => {
          clearTimeout(timer);
          resolve(status);
        })
        .then((opened: unknown) => {
          // isomorphic-ws ships no types here: only its events are used.
          const socket = opened as { on(event: string, listener: (error: Error) => void): void };
          socket.on('close', () => {
            clearTimeout(timer);
            reject(new Error(`exec in ${where} ended without a status`));
          });
          socket.on('error', (error) => reject(error));
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          const reason = error instanceof Error ? error.message : String(error);
          reject(new Error(`cannot exec in ${where}: ${reason}`));
        });
    });
    const status = await finished;
    const exitCode = exitCodeOf(status);
    if (exitCode === undefined) {
      throw new Error(
        `exec ${argv.join(' ')} in ${where} failed: ${status.message ?? status.reason ?? 'no status'}`,
      );
    }
    return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
  };
}
