import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluate, probeEnvironment } from '../activities/checks/probe';
import { projectRoot } from '../client/paths';
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

  it('command: env runs it with variables (no shell, no env wrapper in argv); details show the last lines of output', async () => {
    const withEnv = await evaluate(
      ctx,
      check({
        command: { argv: ['printenv', 'ETCDCTL_API'], env: { ETCDCTL_API: '3' }, outputMatches: '^3$' },
      }),
    );
    assert.equal(withEnv.holds, true, withEnv.detail);
    // A tool that warns first and says why last (as etcdctl does): the reason is in the detail.
    const dir = mkdtempSync(join(tmpdir(), 'gameday-check-'));
    const script = join(dir, 'warns-first.sh');
    writeFileSync(
      script,
      'for i in 1 2 3 4 5 6; do echo "warning $i: deprecated flag"; done\necho "error: context deadline exceeded"\nexit 1\n',
    );
    const failing = await evaluate(ctx, check({ command: { argv: ['sh', script] } }));
    assert.equal(failing.holds, false);
    assert.equal(
      failing.detail,
      'exited 1, expected 0: …warning 5: deprecated flag ⏎ warning 6: deprecated flag ⏎ error: context deadline exceeded',
    );
    const refused = (command: Record<string, unknown>) => () => parsedCheck({ when: ['before'], command });
    assert.throws(
      refused({ argv: ['true'], env: { 'BAD-NAME': '1' } }),
      /must be an environment variable name/,
    );
    assert.throws(refused({ argv: ['true'], env: { X: 'a;reboot' } }), /command\.env\.X.*may contain only/);
    assert.throws(refused({ argv: ['A=1'], env: { X: '1' } }), /must not contain \\"=\\"/);
  });

  it('command: a result that does not hold keeps the last 4 KB of the output, redacted; a held one none', async () => {
    // etcdctl's way: pages of warnings, a credential echoed on the way, and the reason on the last line.
    const dir = mkdtempSync(join(tmpdir(), 'gameday-check-'));
    const script = join(dir, 'warns-a-lot.sh');
    writeFileSync(
      script,
      [
        'echo "warning 0: first of many"',
        'i=1; while [ $i -le 200 ]; do echo "warning $i: the --endpoints flag is deprecated, use --cluster"; i=$((i+1)); done',
        'echo "retrying with Authorization: Bearer s3cr3t-token-value"',
        'echo "error: context deadline exceeded (leader lost)" >&2',
        'exit 1',
      ].join('\n'),
    );
    const failing = await evaluate(ctx, check({ command: { argv: ['sh', script] } }));
    assert.equal(failing.holds, false);
    assert.match(
      failing.detail,
      /error: context deadline exceeded \(leader lost\)$/,
      'the excerpt, as before',
    );
    const output = failing.output ?? '';
    assert.ok(Buffer.byteLength(output) <= 4096, `bounded: ${Buffer.byteLength(output)} bytes`);
    assert.ok(Buffer.byteLength(output) > 3800, 'and not much less: the last 4 KB');
    assert.ok(output.startsWith('…\n'), 'marked as cut at the front');
    assert.match(output, /^warning \d+: the --endpoints/m, 'whole lines from the first kept one');
    assert.ok(!output.includes('warning 0:'), 'the start is what was cut');
    assert.ok(output.endsWith('error: context deadline exceeded (leader lost)'), 'the reason is kept');
    assert.ok(!output.includes('s3cr3t-token-value'), 'redacted as everything stored is');
    assert.match(output, /Authorization: \[redacted\]/);
    // Short output is kept whole; held results (and expected failures) carry none.
    const briefly = join(dir, 'says-why.sh');
    writeFileSync(briefly, 'echo why >&2\nexit 3\n');
    const short = await evaluate(ctx, check({ command: { argv: ['sh', briefly] } }));
    assert.equal(short.output, 'why');
    assert.equal((await evaluate(ctx, check({ command: { argv: ['echo', 'fine'] } }))).output, undefined);
    const expectedFailure = await evaluate(ctx, check({ command: { argv: ['sh', script] } }, 'fail'));
    assert.equal(expectedFailure.holds, true);
    assert.equal(expectedFailure.output, undefined);
    const unexpectedPass = await evaluate(ctx, check({ command: { argv: ['echo', 'still up'] } }, 'fail'));
    assert.equal(unexpectedPass.holds, false);
    assert.equal(unexpectedPass.output, 'still up', 'a pass the plan did not expect shows what it printed');
    const notFound = await evaluate(ctx, check({ command: { argv: ['sh', '-c', 'etcdctl-typo get k'] } }));
    assert.equal(notFound.couldNotAsk, true);
    assert.match(notFound.output ?? '', /etcdctl-typo.*not found/);
  });

  // Each kind's "could not ask" outcomes never hold, even when the plan expects the probe to fail: a check
  // that cannot see must not pass a game day (a typo in a command name held "minority cannot write").
  describe('a probe that could not ask never holds, even with expect: fail', () => {
    it('command: not installed (spawn ENOENT), not found by a shell (127), not executable (126)', async () => {
      const missing = await evaluate(
        ctx,
        check({ command: { argv: ['etcdctl-typo', 'put', 'k', 'v'] } }, 'fail'),
      );
      assert.equal(missing.holds, false, missing.detail);
      assert.equal(missing.couldNotAsk, true);
      assert.match(missing.detail, /^could not ask: command "etcdctl-typo" is not installed on host local/);
      const notFound = await evaluate(
        ctx,
        check({ command: { argv: ['sh', '-c', 'etcdctl-typo put k v'] } }, 'fail'),
      );
      assert.equal(notFound.holds, false, notFound.detail);
      assert.match(notFound.detail, /^could not ask: sh on local exited 127 \(command not found\)/);
      const script = join(mkdtempSync(join(tmpdir(), 'gameday-checks-')), 'not-executable');
      writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
      const notExecutable = await evaluate(ctx, check({ command: { argv: ['sh', '-c', script] } }, 'fail'));
      assert.equal(notExecutable.holds, false, notExecutable.detail);
      assert.match(notExecutable.detail, /exited 126 \(not executable\)/);
    });

    it('command: a command that overran its timeout did answer (no reply in time)', async () => {
      const slow = await evaluate(
        ctx,
        check({ command: { argv: ['sleep', '5'], timeout: '200ms' } }, 'fail'),
      );
      assert.equal(slow.holds, true, slow.detail);
      assert.equal(slow.couldNotAsk, undefined);
      assert.match(slow.detail, /timed out after 200 ms/);
    });

    it('tcp and http: a name that does not resolve is no answer; a refused port is one', async () => {
      const unresolved = await evaluate(
        ctx,
        check({ tcp: { host: 'no-such-host.invalid', port: 80, timeout: '2s' } }, 'fail'),
      );
      assert.equal(unresolved.holds, false, unresolved.detail);
      assert.match(unresolved.detail, /^could not ask: .*does not resolve \((ENOTFOUND|EAI_AGAIN)\)/);
      const refused = await evaluate(
        ctx,
        check({ tcp: { host: '127.0.0.1', port: await freePort(), timeout: '500ms' } }, 'fail'),
      );
      assert.equal(refused.holds, true, refused.detail);
      const http = await evaluate(
        ctx,
        check({ http: { url: 'http://no-such-host.invalid/', timeout: '2s' } }, 'fail'),
      );
      assert.equal(http.holds, false, http.detail);
      assert.equal(http.couldNotAsk, true);
      assert.match(http.detail, /does not resolve/);
    });

    it('a catastrophic pattern is matched in linear time (RE2), and backreferences are refused', () => {
      // V8's backtracking engine needs about 2^40 steps for this line (it blocked a worker for minutes): the
      // check runs in a child process, so a regression fails this test at its timeout instead of hanging it.
      const probe = `
        const { evaluate, probeEnvironment } = require(${JSON.stringify(join(projectRoot, 'dist', 'activities', 'checks', 'probe.js'))});
        const { LocalExecutor } = require(${JSON.stringify(join(projectRoot, 'dist', 'activities', 'executors', 'local.js'))});
        const { parsedCheck } = require(${JSON.stringify(join(projectRoot, 'dist', 'test', 'support', 'checks.js'))});
        const local = new LocalExecutor();
        const check = parsedCheck({ when: ['before'], command: { argv: ['echo', 'a'.repeat(40) + 'b'], outputMatches: '^(a+)+$' } });
        evaluate(probeEnvironment({ checkExecutor: local, executorFor: () => local }), check)
          .then((result) => console.log(JSON.stringify(result)));`;
      const child = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.signal, null, 'the check finished (it was not killed at the timeout)');
      const result = JSON.parse(child.stdout) as { holds: boolean; detail: string };
      assert.equal(result.holds, false);
      assert.match(result.detail, /output does not match/);
      assert.throws(() => check({ command: { argv: ['true'], outputMatches: '(a)\\1' } }), /RE2/);
      assert.throws(() => check({ http: { url: 'http://x/', bodyMatches: '(?=a)' } }), /lookaround/);
    });
  });
});
