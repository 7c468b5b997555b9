import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { projectRoot } from '../client/paths';
import { CommandTimedOut, ExecutorError, type CommandResult } from '../activities/executors/executor';
import { LocalExecutor } from '../activities/executors/local';
import { HelperSpawner } from '../activities/executors/spawnHelper';
import { sleep, waitFor } from './support/wait';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What a run ends in, as comparable data: its result, or its error's class and line. */
async function outcomeOf(run: Promise<CommandResult>): Promise<unknown> {
  try {
    return await run;
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

describe('the spawn helper: local commands start from a small process of their own', () => {
  const spawner = new HelperSpawner();
  const helped = new LocalExecutor(spawner);
  const inProcess = new LocalExecutor();
  const dir = mkdtempSync(join(tmpdir(), 'gameday-spawn-'));
  after(() => {
    spawner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every kind of outcome is the same as when the worker spawns the command itself', async () => {
    const cases: [string[], { timeoutMs?: number; cwd?: string; input?: string }][] = [
      [['sh', '-c', 'echo out; echo err >&2'], {}],
      [['sh', '-c', 'exit 3'], {}],
      [['cat'], { input: 'from stdin\n' }],
      [['cat'], {}],
      [['pwd'], { cwd: dir }],
      [['no-such-command-here'], {}],
      [['sleep', '5'], { timeoutMs: 200 }],
      [['head', '-c', String(17 * 1024 * 1024), '/dev/zero'], {}],
      [['sh', '-c', 'kill -KILL $$'], {}],
    ];
    for (const [argv, options] of cases) {
      const [viaHelper, direct] = await Promise.all([
        outcomeOf(helped.run(argv, options)),
        outcomeOf(inProcess.run(argv, options)),
      ]);
      assert.deepEqual(viaHelper, direct, argv.join(' '));
    }
    await assert.rejects(helped.run(['sleep', '5'], { timeoutMs: 200 }), CommandTimedOut);
    await assert.rejects(
      helped.run(['no-such-command-here']),
      /"no-such-command-here" is not installed on host local/,
    );
  });

  it('the command is a child of the helper, not of the worker', async () => {
    const { stdout } = await helped.run(['sh', '-c', 'echo $PPID']);
    assert.equal(Number(stdout.trim()), spawner.pid);
    assert.notEqual(spawner.pid, process.pid);
  });

  it('runs commands side by side: 20 one-second sleeps take about a second', async () => {
    const started = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => helped.run(['sleep', '1'])));
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
  });

  it('a helper that dies fails its running commands with one line, and the next command starts a new one', async () => {
    const running = helped.run(['sleep', '5']);
    await waitFor('the helper', () => spawner.pid);
    const first = spawner.pid ?? 0;
    process.kill(first, 'SIGKILL');
    await assert.rejects(running, (error: Error) => {
      assert.ok(error instanceof ExecutorError);
      assert.equal(error.message, 'the spawn helper on host local ended (SIGKILL) while it ran a command');
      return true;
    });
    const { stdout } = await helped.run(['echo', 'again']);
    assert.equal(stdout, 'again\n');
    assert.notEqual(spawner.pid, first);
  });

  it('a Ctrl-C meant for the worker does not end the helper', async () => {
    await helped.run(['true']);
    const pid = spawner.pid ?? 0;
    process.kill(pid, 'SIGINT');
    process.kill(pid, 'SIGTERM');
    await sleep(200);
    assert.ok(alive(pid));
    assert.equal((await helped.run(['echo', 'still'])).stdout, 'still\n');
  });

  it('when the worker is killed, the command it handed over still runs to its end, and the helper then exits', async () => {
    const marker = join(dir, 'finished');
    const local = JSON.stringify(join(projectRoot, 'dist', 'activities', 'executors', 'local.js'));
    const helper = JSON.stringify(join(projectRoot, 'dist', 'activities', 'executors', 'spawnHelper.js'));
    const worker = spawn(
      process.execPath,
      [
        '-e',
        `const spawner = new (require(${helper}).HelperSpawner)();
         const local = new (require(${local}).LocalExecutor)(spawner);
         local.run(['sh', '-c', 'sleep 1; touch "$0"', ${JSON.stringify(marker)}]);
         setTimeout(() => console.log(spawner.pid), 300);
         setInterval(() => undefined, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let printed = '';
    worker.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const helperPid = await waitFor("the helper's pid", () => Number(printed.trim()) || undefined);
    worker.kill('SIGKILL');
    await waitFor('the command to finish', () => existsSync(marker), 5_000);
    await waitFor('the helper to exit', () => !alive(helperPid), 5_000);
  });

  it('an idle helper does not keep its process running', async () => {
    const local = JSON.stringify(join(projectRoot, 'dist', 'activities', 'executors', 'local.js'));
    const helper = JSON.stringify(join(projectRoot, 'dist', 'activities', 'executors', 'spawnHelper.js'));
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const local = new (require(${local}).LocalExecutor)(new (require(${helper}).HelperSpawner)());
         local.run(['echo', 'done']).then((r) => process.stdout.write(r.stdout));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let printed = '';
    child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exit = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 10_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    assert.equal(exit, 0, 'the process ended by itself');
    assert.equal(printed, 'done\n');
  });
});
