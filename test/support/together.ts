/** A server a suite starts: the test harnesses' servers stop with `stop()` or `close()`. */
type Server = { stop(): Promise<unknown> } | { close(): Promise<unknown> };

function shutDown(server: Server): Promise<unknown> {
  return 'stop' in server ? server.stop() : server.close();
}

/**
 * Starts a suite's servers side by side, as Promise.all does, except that when one fails to start the others
 * that did are stopped before the error is thrown: the suite's `after` never saw them, and a dev server left
 * running keeps the test file alive until its timeout.
 */
export async function startTogether<T extends readonly Server[]>(starts: {
  readonly [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure === undefined) {
    return settled.map((result) => (result as PromiseFulfilledResult<Server>).value) as unknown as T;
  }
  const started = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  await Promise.allSettled(started.map(shutDown));
  throw failure.reason;
}
