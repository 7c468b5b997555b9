import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { workerSecrets, type Redactor } from '../activities/redact';

/** Sets a property even where the class has only a getter (DOMException's message): an own one shadows it. */
function replace(target: object, key: string, value: unknown): void {
  const enumerable = Object.getOwnPropertyDescriptor(target, key)?.enumerable ?? false;
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}

const isCancellation = (error: unknown) =>
  error instanceof CancelledFailure || (error instanceof Error && error.name === 'AbortError');

/** The same failure, rebuilt, for the rare error whose properties cannot be replaced (a frozen object). */
function rebuilt(error: Error, redactor: Redactor, cause: unknown): ApplicationFailure {
  const application = error instanceof ApplicationFailure ? error : undefined;
  const failure = ApplicationFailure.create({
    message: redactor.redact(error.message),
    type: application ? (application.type ?? undefined) : error.constructor.name,
    nonRetryable: application?.nonRetryable === true,
    details: redactor.redactDeep(application?.details ?? []),
    nextRetryDelay: application?.nextRetryDelay ?? undefined,
    category: application?.category ?? undefined,
    cause: cause instanceof Error ? cause : undefined,
  });
  failure.stack = redactor.redact(error.stack ?? '');
  return failure;
}

/**
 * An activity's error with every text the failure converter stores redacted: message, stack, the cause chain
 * and an ApplicationFailure's details. The error itself is kept (its class, type and nonRetryable), so retries
 * behave exactly as before.
 */
export function redactError(error: unknown, redactor: Redactor, seen = new WeakSet<object>()): unknown {
  if (typeof error === 'string') return redactor.redact(error);
  if (!(error instanceof Error)) return redactor.redactDeep(error);
  if (seen.has(error)) return error;
  seen.add(error);
  const cause = error.cause === undefined ? undefined : redactError(error.cause, redactor, seen);
  try {
    const message = redactor.redact(error.message);
    if (message !== error.message) replace(error, 'message', message);
    const stack = error.stack === undefined ? undefined : redactor.redact(error.stack);
    if (stack !== error.stack) replace(error, 'stack', stack);
    if (cause !== error.cause) replace(error, 'cause', cause);
    if (error instanceof ApplicationFailure && error.details !== undefined) {
      replace(error, 'details', redactor.redactDeep(error.details));
    }
    // A failure decoded from the server keeps its original encoding, which the converter would store as is.
    if (error instanceof TemporalFailure && error.failure !== undefined) replace(error, 'failure', undefined);
    return error;
  } catch {
    return rebuilt(error, redactor, cause);
  }
}

export interface RedactionOptions {
  readonly redactor?: Redactor;
  /**
   * Activities whose results are state that later activities act on (the resolved steps, what a rollback
   * restores): rewriting them would make a rollback restore something else, so they pass unchanged. Their
   * failures are still redacted.
   */
  readonly stateResultsOf?: readonly string[];
}

/**
 * The one boundary everything an activity stores passes: its result and its failure go into workflow history.
 * Cancellation is passed through untouched, so the SDK still reports it as a cancellation.
 */
export function redactingActivityInterceptors(options: RedactionOptions = {}): ActivityInterceptorsFactory {
  const redactor = options.redactor ?? workerSecrets;
  const stateResults = new Set(options.stateResultsOf ?? []);
  return (ctx) => {
    const keepResult = stateResults.has(ctx.info.activityType);
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        let result: unknown;
        try {
          result = await next(input);
        } catch (error) {
          if (isCancellation(error)) throw error;
          throw redactError(error, redactor);
        }
        return keepResult ? result : redactor.redactDeep(result);
      },
    };
    return { inbound };
  };
}
