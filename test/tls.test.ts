// Temporal over mutual TLS, configured the way users configure it: a Temporal client profile (TOML, read by
// @temporalio/envconfig). `temporal server start-dev` has no TLS flags, so a real TLS endpoint (Node's tls,
// client certificates required, ALPN h2) stands in front of the dev server's plain port; see tlsTerminator.ts.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { exitCodes } from '../client/exitCodes';
import { runCli, type CliResult } from './support/cli';
import { pausePlan } from './support/plans';
import { processState, startTestService, type TestService } from './support/services';
import {
  spawnWorkerProcess,
  startTestTemporal,
  uniqueTaskQueue,
  type TestTemporal,
  type WorkerProcess,
} from './support/temporal';
import { createTestPki, startTlsTerminator, type TestPki, type TlsTerminator } from './support/tlsTerminator';

/** This process's environment without TEMPORAL_* variables, so that only the profile file decides. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TEMPORAL_')) env[key] = value;
  return { ...env, ...extra };
}

/** Remote ports of the TCP connections process `pid` holds (from /proc), to see whom it really talks to. */
function tcpPeerPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const link = (() => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile
      }
    })();
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st … inode (10th field); state 01 is ESTABLISHED.
      if (fields.length > 9 && fields[3] === '01' && inodes.has(fields[9]!)) {
        ports.push(parseInt(fields[2]!.split(':')[1]!, 16));
      }
    }
  }
  return ports;
}

const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

const oneLineWithoutStack = (result: CliResult): string => {
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at |Error:/, 'no stack trace');
  assert.doesNotMatch(result.stderr, /BEGIN|PRIVATE KEY/, 'no certificate or key contents');
  return lines[0]!;
};

describe('Temporal over mutual TLS through a client profile (TLS terminator in front of the dev server)', () => {
  let temporal: TestTemporal;
  let pki: TestPki;
  let terminator: TlsTerminator;
  let service: TestService;
  let profiles: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    temporal = await startTestTemporal();
    const dir = join(temporal.dir, 'pki');
    mkdirSync(dir);
    pki = createTestPki(dir);
    terminator = await startTlsTerminator(pki, temporal.server.address);
    service = await startTestService();
    const tls = (keys: Record<string, string>) =>
      Object.entries(keys)
        .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
        .join('\n');
    // 127.0.0.1 as the address and server_name = "localhost": the name checked is the profile's, not the host's.
    profiles = join(temporal.dir, 'temporal.toml');
    writeFileSync(
      profiles,
      `[profile.mtls]\naddress = "${terminator.address}"\nnamespace = "${temporal.server.namespace}"\n` +
        `[profile.mtls.tls]\n${tls({
          server_ca_cert_path: pki.caCert,
          client_cert_path: pki.clientCert,
          client_key_path: pki.clientKey,
          server_name: 'localhost',
        })}\n\n` +
        `[profile.no-client-cert]\naddress = "${terminator.address}"\n` +
        `[profile.no-client-cert.tls]\n${tls({ server_ca_cert_path: pki.caCert, server_name: 'localhost' })}\n\n` +
        `[profile.wrong-ca]\naddress = "${terminator.address}"\n` +
        `[profile.wrong-ca.tls]\n${tls({
          server_ca_cert_path: pki.otherCaCert,
          client_cert_path: pki.clientCert,
          client_key_path: pki.clientKey,
          server_name: 'localhost',
        })}\n\n` +
        `[profile.missing-key]\naddress = "${terminator.address}"\n` +
        `[profile.missing-key.tls]\n${tls({
          server_ca_cert_path: pki.caCert,
          client_cert_path: pki.clientCert,
          client_key_path: join(dir, 'no-such.key'),
        })}\n`,
    );
  });
  after(async () => {
    for (const worker of workers) await worker.kill('SIGTERM');
    await service?.stop();
    await terminator?.close();
    await temporal?.stop();
  });

  const cli = (profile: string, args: readonly string[]): Promise<CliResult> =>
    runCli(args, { env: environment({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: profile }) });

  it('the CLI lists game days over mTLS, with the client certificate the profile names', async () => {
    const sessions = terminator.sessions.length;
    const result = await cli('mtls', ['list', '--json']);
    assert.equal(result.code, exitCodes.passed, result.stderr);
    assert.ok(Array.isArray(JSON.parse(result.stdout)));
    const seen = terminator.sessions.slice(sessions);
    assert.ok(seen.length > 0, 'the CLI went through the TLS endpoint');
    assert.deepEqual([...new Set(seen)], [pki.clientCommonName], 'every session with the client certificate');
  });

  it('a worker and `gameday run` over the same profile: a game day passes, all its traffic through TLS', async () => {
    const taskQueue = uniqueTaskQueue('tls');
    const config = join(temporal.dir, 'tls-worker.yaml');
    // The worker names the profile in its own file (temporal.profile); the CLI below by TEMPORAL_PROFILE.
    writeFileSync(config, stringify({ temporal: { profile: 'mtls' }, taskQueue }));
    const sessions = terminator.sessions.length;
    const before = { ...terminator.bytes };
    const worker = await spawnWorkerProcess(temporal, taskQueue, config, {
      env: environment({ TEMPORAL_CONFIG_FILE: profiles }),
      addressFromConfig: true,
    });
    workers.push(worker);
    const plan = join(temporal.dir, 'tls-pause.yaml');
    writeFileSync(
      plan,
      stringify(pausePlan(service, { observation: { window: '1s', sampleInterval: '500ms' } })),
    );
    const started = Date.now();
    const result = await cli('mtls', ['--task-queue', taskQueue, 'run', plan, '--json']);
    const tookMs = Date.now() - started;
    assert.equal(result.code, exitCodes.passed, `${result.stderr}\n${worker.output()}`);
    const report = JSON.parse(result.stdout) as { outcome: string; workflowId: string };
    assert.equal(report.outcome, 'passed');
    assert.notEqual(processState(service.currentPid()), 'T', 'the service runs again');

    // The worker process holds connections to the TLS endpoint and none to the dev server's plain port.
    const peers = tcpPeerPorts(worker.child.pid!);
    assert.ok(peers.includes(portOf(terminator.address)), `worker peers ${peers.join(', ')}`);
    assert.ok(!peers.includes(portOf(temporal.server.address)), 'the worker never bypassed TLS');
    const seen = terminator.sessions.slice(sessions);
    assert.ok(seen.length >= 2, 'the worker and the CLI each opened TLS sessions');
    assert.deepEqual([...new Set(seen)], [pki.clientCommonName]);
    const toServer = terminator.bytes.toServer - before.toServer;
    const toClient = terminator.bytes.toClient - before.toClient;
    assert.ok(
      toServer > 10_000 && toClient > 10_000,
      `polls, tasks and results: ${toServer}/${toClient} bytes`,
    );
    // The server the endpoint fronts ran it: seen over the test's own plain connection.
    const description = await temporal.client.workflow.getHandle(report.workflowId).describe();
    assert.equal(description.status.name, 'COMPLETED');
    console.log(
      `game day over mTLS: ${tookMs} ms, ${seen.length} TLS sessions, ${toServer}/${toClient} bytes`,
    );
  });

  it('no client certificate: exit 6, one line naming the address and the keys to set', async () => {
    const sessions = terminator.sessions.length;
    const refusals = terminator.refusals.length;
    const result = await cli('no-client-cert', ['list']);
    assert.equal(result.code, exitCodes.error);
    assert.equal(
      oneLineWithoutStack(result),
      `cannot reach Temporal at ${terminator.address} over TLS (profile no-client-cert): ` +
        'the server requires a client certificate; set client_cert_path and client_key_path',
    );
    assert.equal(terminator.sessions.length, sessions, 'no session was let through');
    assert.ok(
      terminator.refusals.slice(refusals).some((reason) => /peer did not return a certificate/.test(reason)),
      `the endpoint refused for want of a certificate: ${terminator.refusals.slice(refusals).join(' | ')}`,
    );
  });

  it('a CA that did not sign the server: exit 6, one line pointing at server_ca_cert_path', async () => {
    const sessions = terminator.sessions.length;
    const result = await cli('wrong-ca', ['list']);
    assert.equal(result.code, exitCodes.error);
    assert.match(
      oneLineWithoutStack(result),
      new RegExp(
        `^cannot reach Temporal at ${terminator.address.replace(/\./g, '\\.')} over TLS \\(profile wrong-ca\\): ` +
          "the server's certificate is not trusted \\(.+\\); check server_ca_cert_path",
      ),
    );
    assert.equal(terminator.sessions.length, sessions);
  });

  it('the worker meets the same refusal in the same words', async () => {
    const config = join(temporal.dir, 'tls-worker-no-cert.yaml');
    writeFileSync(config, stringify({ temporal: { profile: 'no-client-cert' }, taskQueue: 'unused' }));
    const result = await runCli(['worker', '--config', config], {
      env: environment({ TEMPORAL_CONFIG_FILE: profiles, GAMEDAY_LOG_LEVEL: 'error' }),
      timeoutMs: 30_000,
    });
    assert.equal(result.code, exitCodes.error);
    assert.equal(
      oneLineWithoutStack(result),
      `cannot reach Temporal at ${terminator.address} over TLS (profile no-client-cert): ` +
        'the server requires a client certificate; set client_cert_path and client_key_path',
    );
  });

  it('a profile that is not in the file, or names a key file that is not there: exit 6, one line', async () => {
    const absent = await cli('prod', ['list']);
    assert.equal(absent.code, exitCodes.error);
    assert.match(
      oneLineWithoutStack(absent),
      /^Temporal client configuration \(.*temporal\.toml, profile prod\): Profile 'prod' not found/,
    );
    const missingKey = await cli('missing-key', ['list']);
    assert.equal(missingKey.code, exitCodes.error);
    assert.match(
      oneLineWithoutStack(missingKey),
      /^Temporal client configuration \(.*, profile missing-key\): ENOENT: .*no-such\.key'; check /,
    );
  });
});
