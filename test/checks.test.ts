import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { evaluate, probeEnvironment } from '../activities/checks/probe';
import { LocalExecutor } from '../activities/executors/local';
import { freePort } from '../worker/ports';
import type { ProbeSpec } from '../plan/schema';
import { parsedCheck } from './support/checks';

const local = new LocalExecutor();
const ctx = probeEnvironment({ checkExecutor: local, executorFor: () => local });

/** Checks go through the plan parser, so defaults and durations are as in a real plan. */
function check(probe: Record<string, unknown>, expect: 'pass' | 'fail' = 'pass'): ProbeSpec {
  return parsedCheck({ when: ['before'], expect, ...probe });
}

describe('checks against real local servers', () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((request, response) => {
      if (request.url === '/slow') {
        setTimeout(() => response.end('late'), 400);
        return;
      }
      response.writeHead(request.url === '/ok' ? 200 : 503);
      response.end(request.url === '/ok' ? 'all good' : 'overloaded');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('http: status, body and latency', async () => {
    assert.equal(
      (await evaluate(ctx, check({ http: { url: `${base}/ok`, bodyMatches: 'good' } }))).holds,
      true,
    );
    const wrongStatus = await evaluate(ctx, check({ http: { url: `${base}/busy` } }));
    assert.equal(wrongStatus.holds, false);
    assert.match(wrongStatus.detail, /status 503, expected 200/);
    assert.equal(
      (await evaluate(ctx, check({ http: { url: `${base}/busy`, status: [200, 503] } }))).holds,
      true,
    );
    assert.match(
      (await evaluate(ctx, check({ http: { url: `${base}/ok`, bodyMatches: '^bad' } }))).detail,
      /body does not match/,
    );
    const slow = await evaluate(ctx, check({ http: { url: `${base}/slow`, maxLatency: '100ms' } }));
    assert.match(slow.detail, /over 100ms/);
    const timeout = await evaluate(ctx, check({ http: { url: `${base}/slow`, timeout: '100ms' } }));
    assert.match(timeout.detail, /no answer within 100ms/);
  });

  it('expect: fail holds when the probe fails', async () => {
    const closedPort = await freePort();
    const result = await evaluate(ctx, check({ http: { url: `http://127.0.0.1:${closedPort}/` } }, 'fail'));
    assert.equal(result.holds, true);
    assert.match(result.detail, /ECONNREFUSED/);
  });

  it('tcp: open and closed ports', async () => {
    const port = Number(new URL(base).port);
    assert.equal((await evaluate(ctx, check({ tcp: { host: '127.0.0.1', port } }))).holds, true);
    const closed = await evaluate(
      ctx,
      check({ tcp: { host: '127.0.0.1', port: await freePort(), timeout: '200ms' } }),
    );
    assert.equal(closed.holds, false);
  });

  it('command: exit code and output', async () => {
    assert.equal((await evaluate(ctx, check({ command: { argv: ['true'] } }))).holds, true);
    const failing = await evaluate(ctx, check({ command: { argv: ['false'] } }));
    assert.match(failing.detail, /exited 1, expected 0/);
    assert.equal(
      (
        await evaluate(
          ctx,
          check({ command: { argv: ['echo', 'leader=broker-1'], outputMatches: '^leader=broker-[0-9]$' } }),
        )
      ).holds,
      true,
    );
    const lag = (value: Record<string, number>) =>
      evaluate(
        ctx,
        check({
          command: {
            argv: ['echo', 'partition 3 lag 1250 messages'],
            value: { pattern: 'lag (\\d+)', ...value },
          },
        }),
      );
    const withinBound = await lag({ max: 5000 });
    assert.equal(withinBound.holds, true, withinBound.detail);
    assert.equal(withinBound.value, 1250);
    const tooHigh = await lag({ min: 0, max: 1000 });
    assert.equal(tooHigh.holds, false);
    assert.equal(tooHigh.detail, 'read 1250, expected within 0..1000');
    const noNumber = await evaluate(
      ctx,
      check({ command: { argv: ['echo', 'no lag here'], value: { pattern: 'lag (\\d+)', max: 1 } } }),
    );
    assert.match(noNumber.detail, /no number for \/lag \(\\d\+\)\/ in: no lag here/);
    const missing = await evaluate(ctx, check({ command: { argv: ['no-such-binary-gameday'] } }));
    assert.match(missing.detail, /"no-such-binary-gameday" is not installed on host local/);
  });
});
