import { Writable } from 'node:stream';
import { outputExcerpt } from './outputExcerpt';
import type { V1Pod, V1Status } from '@kubernetes/client-node';
import { kubernetesLibrary } from '../kubernetes/library';
import { z } from 'zod';
import { commandLine, kubernetesName } from '../../plan/safeValues';
import { couldNotRunExitCodes } from '../executors/executor';
import type { KubernetesClient } from '../kubernetes/client';
import { describeAnswer, expectedAnswer, judgeAnswer, type CommandAnswer } from './command';
import { CouldNotAsk, type ProbeResult } from './contract';
import { podName, podReady } from './kubernetesPods';

// `kubernetes.exec`: `kubectl exec <pod> -c <container> -- argv…` through the pods/exec subresource, judged like
// the `command` check (exit code, output match, a number read from the output). Argv only: no shell runs unless
// the plan's argv calls one itself, with the plan's own (validated) words.

/** The most output kept from one exec (stdout and stderr together). */
const maxOutputBytes = 1024 * 1024;

export const execSpec = z
  .strictObject({
    container: kubernetesName
      .optional()
      .describe("the container (default: the pod's first, as kubectl exec without -c)"),
    argv: commandLine.describe('the command and its arguments, run in the container without a shell'),
    ...expectedAnswer,
    pods: z
      .enum(['one', 'all'])
      .default('one')
      .describe(
        'one: the first Ready pod by name (as kubectl exec runs in one pod); all: every selected pod',
      ),
  })
  .describe('a command in a container of the selected pods, judged like the command check');
export type ExecSpec = z.output<typeof execSpec>;

export const describeExec = (spec: ExecSpec): string =>
  `\`${spec.argv.join(' ')}\`${spec.container === undefined ? '' : ` in container ${spec.container}`}` +
  `${describeAnswer(spec)} (${spec.pods === 'one' ? 'in one Ready pod' : 'in every pod'})`;

/** The exec's web socket, as used here (the client's type for it comes from a package without types). */
interface ExecSocket {
  on(event: 'close' | 'error', listener: () => void): unknown;
  terminate(): void;
  readonly readyState: number;
}

/** WebSocket.OPEN */
const socketOpen = 1;

/** What one exec answered, or that it did not finish within the timeout. */
export type ExecAnswer =
  (CommandAnswer & { readonly timedOut?: false }) | { readonly timedOut: true; readonly output: string };

/**
 * The exit code a finished exec's status channel reports, as a kubelet sends it: Success is 0, a
 * NonZeroExitCode Failure carries the code as an ExitCode cause. Any other status means the command never ran
 * to an exit (no such container, the runtime failed): could not ask.
 */
export function exitCodeOf(status: V1Status | undefined): number {
  if (status === undefined) throw new CouldNotAsk('the exec stream closed without an exit status');
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new CouldNotAsk(
    `the exec failed without an exit code: ${status.message ?? status.reason ?? 'no reason given'}`,
  );
}

/** A refused exec upgrade names what was asked, as the client's other calls do. */
function execFailure(kube: KubernetesClient, namespace: string, pod: string, error: unknown): Error {
  const text =
    error instanceof Error ? error.message : String((error as { message?: unknown }).message ?? error);
  const status = Number(/Unexpected server response: (\d+)/.exec(text)?.[1] ?? 0);
  const what = `create pods/exec ${pod} in namespace ${namespace} (context ${kube.context})`;
  if (status === 401 || status === 403) {
    return new CouldNotAsk(
      `not allowed to ${what}: HTTP ${status}; grant the worker's identity "create" on pods/exec`,
    );
  }
  return new CouldNotAsk(
    status === 0
      ? `cannot ${what}: the API server did not answer (${text})`
      : `cannot ${what}: HTTP ${status}`,
  );
}

/** Runs argv in the pod's container; resolves with its answer, or `timedOut` when it overran the timeout. */
export async function execInPod(
  kube: KubernetesClient,
  pod: V1Pod,
  container: string,
  argv: readonly string[],
  timeoutMs: number,
): Promise<ExecAnswer> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = podName(pod);
  let output = '';
  const collect = () =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (output.length < maxOutputBytes) output += chunk.toString('utf8');
        done();
      },
    });
  let status: V1Status | undefined;
  let socket: ExecSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const started = new (kubernetesLibrary().Exec)(kube.config).exec(
      namespace,
      name,
      container,
      [...argv],
      collect(),
      collect(),
      null,
      false,
      (s) => {
        status = s;
      },
    ) as Promise<unknown>;
    const opened = started.then((ws) => (socket = ws as ExecSocket));
    // A handshake that never completes is given up here (the client offers no way to cancel it).
    const first = await Promise.race([opened.catch((error: unknown) => ({ error })), timedOut]);
    if (first === 'timeout') {
      opened.then(
        (ws) => ws.terminate(),
        () => undefined,
      );
      throw new CouldNotAsk(`the API server did not open the exec in ${name} within ${timeoutMs} ms`);
    }
    if ('error' in first) throw execFailure(kube, namespace, name, first.error);
    const ws = first;
    const closed = new Promise<'closed'>((resolve) => {
      ws.on('close', () => resolve('closed'));
      ws.on('error', () => resolve('closed'));
    });
    if ((await Promise.race([closed, timedOut])) === 'timeout') {
      ws.terminate();
      return { timedOut: true, output };
    }
    return { exitCode: exitCodeOf(status), output: output.trim() };
  } finally {
    clearTimeout(timer);
    if (socket !== undefined && socket.readyState === socketOpen) socket.terminate();
  }
}

/** Judges one pod's answer: a timeout is the system's answer (no reply in time), 126/127 could not ask. */
export function judgeExec(answer: ExecAnswer, spec: ExecSpec, timeoutMs: number): ProbeResult {
  if (answer.timedOut === true) {
    return {
      ok: false,
      detail: `did not finish within ${timeoutMs} ms: ${outputExcerpt(answer.output)}`,
      output: answer.output,
    };
  }
  if (couldNotRunExitCodes.includes(answer.exitCode)) {
    const why = answer.exitCode === 127 ? 'command not found' : 'not executable';
    throw new CouldNotAsk(
      `${spec.argv[0] ?? ''} exited ${answer.exitCode} (${why}): ${outputExcerpt(answer.output)}`,
      { output: answer.output },
    );
  }
  return judgeAnswer(answer, spec);
}

/** The pods to run in: the first Ready one, or every selected one (a pod not Ready then answers no). */
export function execTargets(pods: readonly V1Pod[], spec: ExecSpec): V1Pod[] {
  if (spec.pods === 'all') return [...pods];
  const first = pods.find(podReady);
  return first === undefined ? [] : [first];
}

/** The container to run in: the spec's, or the pod's first. */
export const containerOf = (pod: V1Pod, spec: ExecSpec): string =>
  spec.container ?? pod.spec?.containers[0]?.name ?? '';
