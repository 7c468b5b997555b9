import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { defaultDevServerPorts } from '../client/devServer';
import { exitCodes } from '../client/exitCodes';
import { pausePlan } from './support/plans';
import { startTestService, type TestService } from './support/services';
import { cliPath } from './support/temporal';
import { runCli } from './support/cli';
import { waitFor } from './support/wait';

/** Listens on a loopback port; undefined when something already does (it is busy either way). */
function squat(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('gameday dev on busy ports', () => {
  let dir: string;
  let squatters: (Server | undefined)[] = [];
  let service: TestService;
  const env = () => ({ ...process.env, NO_COLOR: '1', GAMEDAY_STATE_DIR: dir });

  /** Starts `gameday dev` and waits for its run line; `stop` sends Ctrl-C and resolves with its exit code. */
  const startDev = async () => {
    const dev = spawn(process.execPath, [cliPath, 'dev'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    dev.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    dev.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', resolve));
    const stop = async () => {
      dev.kill('SIGINT');
      return exited;
    };
    try {
      await waitFor(
        'dev prints the run line',
        () => {
          if (dev.exitCode !== null) throw new Error(`gameday dev exited with ${dev.exitCode}`);
          return /^run a plan: /m.test(stdout);
        },
        120_000,
      );
    } catch (error) {
      await stop();
      throw new Error(`${(error as Error).message}\n${stdout}${stderr}`);
    }
    return { stdout: () => stdout, stderr: () => stderr, stop };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-dev-ports-'));
    squatters = await Promise.all([squat(defaultDevServerPorts.port), squat(defaultDevServerPorts.uiPort)]);
    service = await startTestService();
  });
  after(async () => {
    await service?.stop();
    for (const server of squatters)
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(0)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says which ports it took instead, links to its UI, and keeps the same ports when restarted', async () => {
    const first = await startDev();
    let workflowId: string;
    let port: number;
    let uiPort: number;
    try {
      const said = first.stderr();
      port = Number(/port 7233 is in use: the Temporal frontend on port (\d+) instead/.exec(said)?.[1]);
      uiPort = Number(/port 8233 is in use: the Temporal UI on port (\d+) instead/.exec(said)?.[1]);
      assert.ok(port > 0 && uiPort > 0, said);
      assert.match(
        first.stdout(),
        new RegExp(`^Temporal 127\\.0\\.0\\.1:${port}  UI http://127\\.0\\.0\\.1:${uiPort}  `, 'm'),
      );
      assert.match(
        first.stdout(),
        new RegExp(`run a plan: gameday run examples/demo\\.yaml --address 127\\.0\\.0\\.1:${port}$`, 'm'),
      );
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'dev', 'ports.json'), 'utf8')), { port, uiPort });
      // The UI the link points at answers there.
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(ui.status, 200);
      // Without --ui-url, run and status link to the dev server's UI.
      const plan = join(dir, 'plan.yaml');
      writeFileSync(plan, stringify(pausePlan(service)));
      const link = new RegExp(
        `http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/(gameday-test-pause-\\w+)`,
      );
      const run = await runCli(['--address', `127.0.0.1:${port}`, 'run', plan], {
        env: env(),
        timeoutMs: 90_000,
      });
      assert.equal(run.code, exitCodes.passed, run.stdout + run.stderr);
      workflowId = link.exec(run.stdout)?.[1] ?? '';
      assert.ok(workflowId, run.stdout);
      const status = await runCli(['--address', `127.0.0.1:${port}`, 'status', workflowId], { env: env() });
      assert.match(status.stdout, link);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    // Restarted with the defaults still busy: the same ports, said so, and the same history.
    const second = await startDev();
    try {
      assert.match(second.stderr(), new RegExp(`the Temporal frontend on port ${port} as at its last start`));
      assert.match(second.stderr(), new RegExp(`the Temporal UI on port ${uiPort} as at its last start`));
      assert.match(
        second.stdout(),
        new RegExp(`^Temporal 127\\.0\\.0\\.1:${port}  UI http://127\\.0\\.0\\.1:${uiPort}  `, 'm'),
      );
      const report = await runCli(['--address', `127.0.0.1:${port}`, 'report', workflowId], { env: env() });
      assert.equal(report.code, exitCodes.passed, report.stderr);
      assert.match(
        report.stdout,
        new RegExp(`\\(http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/${workflowId}\\)`),
      );
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });
});
