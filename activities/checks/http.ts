import { z } from 'zod';
import { duration, formatDuration } from '../../plan/duration';
import { matches } from '../../plan/regex';
import { httpUrl, regexPattern } from '../../plan/safeValues';
import { couldNotAskReason } from '../executors/networkErrors';
import { couldNotAsk, type CheckKind } from './contract';

const spec = z.strictObject({
  url: httpUrl,
  method: z.enum(['GET', 'HEAD']).default('GET'),
  status: z
    .union([z.number().int(), z.array(z.number().int()).min(1).max(20)])
    .default(200)
    .describe('expected status code, or a list of them'),
  bodyMatches: regexPattern.optional().describe('RE2 regular expression the body must match'),
  maxLatency: duration({ max: '1m' }).optional().describe('slower answers fail the check'),
  timeout: duration({ min: '10ms', max: '5m' }).default(5000),
});
type Spec = z.infer<typeof spec>;

/** The most of a body that is read and matched: a check never holds a huge answer in memory. */
const maxBodyBytes = 1024 * 1024;

/** The body as text, cut at `maxBodyBytes` (the rest is not read). */
async function boundedText(response: Response): Promise<string> {
  const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    chunks.push(chunk.value);
    size += chunk.value.byteLength;
    if (size >= maxBodyBytes) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBodyBytes).toString('utf8');
}

export const httpCheck: CheckKind<Spec> = {
  key: 'http',
  description: 'An HTTP request must answer with the expected status (and body, and within a latency bound).',
  answeredNo:
    'another status, a body that does not match, an answer slower than maxLatency, no answer within the ' +
    'timeout, or the connection refused, reset or unreachable.',
  couldNotAsk: 'the host name does not resolve, or its TLS certificate cannot be verified.',
  spec,
  // The value of an HTTP sample is its latency in ms.
  valueBound: (s) => (s.maxLatency === undefined ? undefined : { max: s.maxLatency }),
  describe: (s) =>
    `${s.method} ${s.url} answers ${String(s.status)}` +
    (s.bodyMatches ? ` matching /${s.bodyMatches}/` : '') +
    (s.maxLatency ? ` within ${formatDuration(s.maxLatency)}` : ''),

  async probe(ctx, s) {
    const started = performance.now();
    const signals = [AbortSignal.timeout(s.timeout), ...(ctx.signal ? [ctx.signal] : [])];
    let response: Response;
    let body: string;
    try {
      response = await fetch(s.url, {
        method: s.method,
        signal: AbortSignal.any(signals),
        redirect: 'manual',
      });
      body = await boundedText(response);
    } catch (error) {
      const cannot = couldNotAskReason(error);
      if (cannot !== undefined) return couldNotAsk(`${s.method} ${s.url}: ${cannot}`);
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${formatDuration(s.timeout)}`
          : error instanceof Error
            ? ((error.cause as Error | undefined)?.message ?? error.message)
            : String(error);
      return { ok: false, detail: `${s.method} ${s.url}: ${reason}` };
    }
    const latency = Math.round(performance.now() - started);
    const wanted = Array.isArray(s.status) ? s.status : [s.status];
    if (!wanted.includes(response.status)) {
      return {
        ok: false,
        value: latency,
        detail: `status ${response.status}, expected ${wanted.join(' or ')}`,
      };
    }
    if (s.bodyMatches !== undefined && !matches(s.bodyMatches, body)) {
      return {
        ok: false,
        value: latency,
        detail: `body does not match /${s.bodyMatches}/: ${body.slice(0, 120)}`,
      };
    }
    if (s.maxLatency !== undefined && latency > s.maxLatency) {
      return {
        ok: false,
        value: latency,
        detail: `answered in ${latency} ms, over ${formatDuration(s.maxLatency)}`,
      };
    }
    return { ok: true, value: latency, detail: `status ${response.status} in ${latency} ms` };
  },
};
