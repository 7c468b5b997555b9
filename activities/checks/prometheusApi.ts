/** A small client for Prometheus's HTTP query API (instant and range queries), over fetch. */

import { redact } from '../redact';

/** One series of a result: its labels and its samples as [unix seconds, value]. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly (readonly [number, number])[];
}

/** How to reach one named endpoint; `headers` is called per request, so secrets are read at run time only. */
export interface PrometheusEndpoint {
  readonly name: string;
  readonly url: string;
  headers(): Promise<Record<string, string>>;
}

/** The named endpoints a worker knows (worker configuration `prometheus.endpoints`). */
export interface PrometheusEndpoints {
  readonly names: readonly string[];
  endpoint(name: string): PrometheusEndpoint | undefined;
}

/**
 * Why a query failed: `retryable` for transport errors and overload, not for a query Prometheus rejects. The
 * message is redacted here, once: it reaches check details, reports and logs.
 */
export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(redact(message));
    this.name = 'PrometheusError';
  }
}

/** Characters of an error body kept in a message: enough to recognise the page, never the whole of it. */
export const bodyExcerptLength = 300;
/** Only this much of a body is read into the message at all (a proxy's error page can be megabytes). */
const bodyReadLength = 64 * 1024;

/** The start of an error body, one line: redacted before it is cut, so a cut never leaves half a secret. */
function bodyExcerpt(body: string): string {
  const text = redact(body.slice(0, bodyReadLength)).replace(/\s+/g, ' ').trim();
  return text.length > bodyExcerptLength ? `${text.slice(0, bodyExcerptLength)}…` : text;
}

interface ApiAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

type RawSample = [number, string];
interface RawSeries {
  metric?: Record<string, string>;
  value?: RawSample;
  values?: RawSample[];
}

/** Without any user:password written into the URL, so messages and logs never carry it. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function toNumber(text: string): number {
  // Prometheus writes NaN, +Inf and -Inf as strings; Number() reads "+Inf" as NaN, so map them explicitly.
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function toSeries(resultType: string | undefined, result: unknown): Series[] {
  switch (resultType) {
    case 'vector':
      return (result as RawSeries[]).map((raw) => ({
        labels: raw.metric ?? {},
        samples: raw.value ? [[raw.value[0], toNumber(raw.value[1])]] : [],
      }));
    case 'matrix':
      return (result as RawSeries[]).map((raw) => ({
        labels: raw.metric ?? {},
        samples: (raw.values ?? []).map(([at, value]) => [at, toNumber(value)] as const),
      }));
    case 'scalar': {
      const [at, value] = result as RawSample;
      return [{ labels: {}, samples: [[at, toNumber(value)]] }];
    }
    default:
      throw new PrometheusError(`unexpected result type ${String(resultType)}`, false);
  }
}

export interface QueryOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

async function call(
  endpoint: PrometheusEndpoint,
  path: string,
  form: Record<string, string>,
  options: QueryOptions,
): Promise<Series[]> {
  const url = `${endpoint.url.replace(/\/$/, '')}${path}`;
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
  let credentials: Record<string, string>;
  try {
    credentials = await endpoint.headers();
  } catch (error) {
    throw new PrometheusError(error instanceof Error ? error.message : String(error), false);
  }
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...credentials },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.any(signals),
    });
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs} ms`
        : error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
    throw new PrometheusError(reason, true);
  }
  let answer: ApiAnswer | undefined;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch {
    answer = undefined;
  }
  if (answer?.status === 'success' && answer.data)
    return toSeries(answer.data.resultType, answer.data.result);
  const reason = answer?.error
    ? `${answer.errorType ?? 'error'}: ${answer.error}`
    : `HTTP ${response.status}: ${bodyExcerpt(text)}`;
  // 400 and 422 are the query's fault (bad_data, execution): asking again gives the same answer.
  const retryable = response.status >= 500 || response.status === 429;
  throw new PrometheusError(
    response.status === 401 || response.status === 403
      ? `HTTP ${response.status} (check the endpoint's credentials in the worker configuration): ${reason}`
      : reason,
    retryable,
  );
}

/** `query` evaluated at one instant (now when `atSeconds` is absent). */
export function instantQuery(
  endpoint: PrometheusEndpoint,
  query: string,
  atSeconds: number | undefined,
  options: QueryOptions,
): Promise<Series[]> {
  return call(
    endpoint,
    '/api/v1/query',
    { query, ...(atSeconds === undefined ? {} : { time: String(atSeconds) }) },
    options,
  );
}

/** `query` evaluated every `stepSeconds` from `startSeconds` to `endSeconds`. */
export function rangeQuery(
  endpoint: PrometheusEndpoint,
  query: string,
  range: { readonly startSeconds: number; readonly endSeconds: number; readonly stepSeconds: number },
  options: QueryOptions,
): Promise<Series[]> {
  return call(
    endpoint,
    '/api/v1/query_range',
    {
      query,
      start: String(range.startSeconds),
      end: String(range.endSeconds),
      step: String(range.stepSeconds),
    },
    options,
  );
}

/** `{code="500", job="ufs"}`: how a series is named in messages. */
export function seriesName(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}="${value}"`);
  return `{${pairs.join(', ')}}`;
}
