import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { exitCodes } from '../client/exitCodes';
import { projectRoot } from '../client/paths';
import { killPlan, pausePlan } from './support/plans';
import { processState, startTestService, type TestService } from './support/services';
import {
  cliPath,
  type InProcessWorker,
  startInProcessWorker,
  startTestTemporal,
  type TestTemporal,
} from './support/temporal';
import { runCli, type CliResult } from './support/cli';
import { waitFor } from './support/wait';

describe('the gameday CLI against a real dev server', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let service: TestService;

  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli(['--address', temporal.server.address, '--task-queue', worker.taskQueue, ...args], {
      timeoutMs: 60_000,
    });

  const writePlan = (name: string, document: Record<string, unknown>): string => {
    const file = join(temporal.dir, `${name}.yaml`);
    writeFileSync(file, stringify(document));
    return file;
  };

  const countGameDays = async (): Promise<number> => {
    const result = await gameday('list', '--json', '--limit', '1000');
    return (JSON.parse(result.stdout) as unknown[]).length;
  };

  before(async () => {
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
    service = await startTestService();
  });
  after(async () => {
    await service?.stop();
    await worker?.stop();
    await temporal?.stop();
  });

  it('run follows a game day live, prints the report and exits 0 when it passed', async () => {
    const result = await gameday('run', writePlan('pass', pausePlan(service)));
    assert.equal(result.code, exitCodes.passed, result.stderr);
    for (const phase of ['preflight', 'inject', 'observe', 'rollback', 'recover', 'done']) {
      assert.match(result.stdout, new RegExp(`\\d\\d:\\d\\d:\\d\\d ${phase}`), `live line for ${phase}`);
    }
    assert.match(result.stdout, /injected: pause pidfile .* on local \(SIGSTOP\)/);
    assert.match(result.stdout, /# Game day test-pause: passed/);
    assert.ok(!result.stdout.includes('\u001b['), 'NO_COLOR: no escape codes');
    assert.notEqual(processState(service.currentPid()), 'T');
  });

  it('exits 1 when the hypothesis did not hold during chaos', async () => {
    const plan = pausePlan(service);
    (plan.checks as Record<string, unknown>[])[1]!.expect = 'pass'; // "the service answers while paused": false
    const result = await gameday('run', writePlan('fail', plan), '--json');
    assert.equal(result.code, exitCodes.failed, result.stderr);
    const report = JSON.parse(result.stdout) as { outcome: string; reason: string };
    assert.equal(report.outcome, 'failed');
    assert.match(report.reason, /frozen held 0\/\d+ samples/);
  });

  it('exits 4 when the steady state does not hold before injection', async () => {
    const plan = pausePlan(service);
    (plan.checks as { http: { url: string } }[])[0]!.http.url = `http://127.0.0.1:${service.port}/nope`;
    const result = await gameday('run', writePlan('not-started', plan), '--json');
    assert.equal(result.code, exitCodes['not-started']);
  });

  it('run --detach, status, abort, report: exit codes scripts can rely on', async () => {
    const plan = writePlan(
      'long',
      pausePlan(service, { observation: { window: '60s', sampleInterval: '1s' } }),
    );
    const started = await gameday('run', plan, '--detach', '--json');
    assert.equal(started.code, 0, started.stderr);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    let status: CliResult;
    do status = await gameday('status', workflowId, '--json');
    while ((JSON.parse(status.stdout) as { phase: string }).phase !== 'observe');
    const abort = await gameday('abort', workflowId, '--reason', 'customer traffic spike');
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /abort accepted during observe/);
    const report = await gameday('report', workflowId, '--format', 'json');
    assert.equal(report.code, exitCodes.aborted);
    assert.match((JSON.parse(report.stdout) as { reason: string }).reason, /customer traffic spike/);
    const markdown = await gameday('report', workflowId);
    assert.match(markdown.stdout, /# Game day test-pause: aborted/);
    const again = await gameday('abort', workflowId, '--reason', 'twice');
    assert.equal(again.code, exitCodes.usage);
    assert.equal(
      again.stderr.trim(),
      `game day ${workflowId} has already ended (completed, outcome aborted): there is nothing to abort`,
    );
    assert.notEqual(processState(service.currentPid()), 'T');
    const listed = await gameday('list');
    assert.match(listed.stdout, new RegExp(`aborted\\s+${workflowId}`));
  });

  it('an invalid plan is reported with file:line:col and no workflow is started', async () => {
    const before = await countGameDays();
    const file = join(temporal.dir, 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: gameday.dev/v1alpha1\nkind: GameDay\nmetadata: { name: ok, owner: me }\ntargets: {}\nfaults: []\nobservation: { window: 1x }\n',
    );
    const run = await gameday('run', file);
    assert.equal(run.code, exitCodes.usage);
    assert.match(
      run.stderr,
      new RegExp(`${file.replace(/[.]/g, '\\.')}:6:24: observation\\.window: must be a duration`),
    );
    assert.match(run.stderr, /:5:9: faults: .*(>=1|at least|too small)/i);
    const validate = await gameday('validate', file);
    assert.equal(validate.code, exitCodes.usage);
    assert.equal(await countGameDays(), before, 'nothing was started');
  });

  it('--dry-run prints every action and rollback in plain words and starts nothing', async () => {
    const before = await countGameDays();
    const result = await gameday('run', writePlan('dry', pausePlan(service)), '--dry-run');
    assert.equal(result.code, 0);
    assert.match(
      result.stdout,
      /pause pidfile .* on local \(SIGSTOP\)\n\s+rollback: resume pidfile .* \(SIGCONT\)/,
    );
    assert.match(result.stdout, /5\. roll back, last in first out/);
    assert.match(
      result.stdout,
      /dead-man switch: leaves \/tmp\/\.gameday-<tag>-deadman-0\.\{lease,revert,watch,pid,log\} and a watcher process on local\n.* if its 1m lease is not renewed/,
    );
    assert.doesNotMatch(result.stdout, /nothing watching/, 'its during check watches');
    assert.equal(await countGameDays(), before);
  });

  it("--dry-run warns when the window has no during check and no guardrail, and shows the plan's lease", async () => {
    const unwatched = { ...killPlan(service, '10m'), deadManSwitch: { lease: '30s' } };
    const result = await gameday('run', writePlan('unwatched', unwatched), '--dry-run');
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /4\. observe for 10m.*\n\s+warning: 10m of chaos and nothing watching \(no during check, no guardrail\)\n5\./,
    );
    assert.match(
      result.stdout,
      /deadman-0\.\{lease,revert,watch,pid,log\}.*\n.* if its 30s lease is not renewed/,
    );
  });

  it('schema prints JSON Schema; --help works everywhere; bad usage exits 2', async () => {
    const schema = await gameday('schema');
    assert.equal((JSON.parse(schema.stdout) as { type: string }).type, 'object');
    const subcommands = [
      ...['run', 'validate', 'schema', 'status', 'abort', 'list', 'report', 'history', 'janitor'],
      ...['diagnose io', 'worker', 'dev', 'demo', 'setup'],
      ...[
        'apply',
        'validate',
        'schema',
        'list',
        'describe',
        'pause',
        'unpause',
        'trigger',
        'backfill',
        'delete',
      ].map((command) => `schedule ${command}`),
    ];
    const helps = new Map<string, string>();
    for (const command of subcommands) {
      const help = await gameday(...command.split(' '), '--help');
      helps.set(command, help.stdout);
      assert.equal(help.code, 0, `${command} --help`);
      assert.match(help.stdout, new RegExp(`Usage: gameday ${command}`));
      assert.match(
        help.stdout,
        new RegExp(`\\nExamples:\\n(  \\$ gameday ${command}.*\\n){1,3}\\n`),
        `${command}: examples`,
      );
      assert.match(help.stdout, /\nExit codes:\n( {2}[0-6] {2}\S.*\n?)+$/, `${command}: exit codes`);
    }
    const helpOf = (command: string) => helps.get(command) ?? '';
    // Commander wraps option descriptions at 80 columns when not on a terminal.
    const unwrapped = (command: string) => helpOf(command).replace(/\s+/g, ' ');
    assert.match(unwrapped('abort'), /--reason <text> [^(]*\(required\)/);
    assert.match(helpOf('abort'), / {2}1 {2}abort refused/);
    assert.match(unwrapped('schedule pause'), /--reason <text> [^(]*\(required\)/);
    assert.match(
      unwrapped('schedule backfill'),
      /--from <time> [^(]*\(required\) --to <time> [^(]*\(required\)/,
    );
    assert.match(unwrapped('diagnose io'), /--host <name> [^(]*\(required\)/);
    assert.match(helpOf('run'), / {2}5 {2}rollback stuck/);
    assert.doesNotMatch(helpOf('schema'), / {2}6 /, 'schema never talks to Temporal');
    assert.match((await gameday('--help')).stdout, /Exit codes:\n {2}0 passed {3}1 failed/);
    assert.equal((await gameday('run')).code, exitCodes.usage);
    assert.equal((await gameday('frobnicate')).code, exitCodes.usage);
    assert.equal((await gameday('abort', 'x')).code, exitCodes.usage, 'abort needs --reason');
  });

  /** One line on stderr and nothing that looks like a stack frame. */
  const oneLine = (result: CliResult): string => {
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    return result.stderr.trim();
  };

  it('run with no worker on its task queue names it, says how to start one, and gives up with exit 6 having started nothing', async () => {
    const before = await countGameDays();
    const queue = `nobody-${process.pid}`;
    const startedAt = Date.now();
    const result = await runCli(
      [
        '--address',
        temporal.server.address,
        '--task-queue',
        queue,
        'run',
        writePlan('unserved', pausePlan(service)),
        '--worker-wait',
        '2s',
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(result.code, exitCodes.error, result.stdout + result.stderr);
    assert.ok(Date.now() - startedAt < 20_000, 'gave up after its bound');
    assert.match(
      result.stderr,
      new RegExp(
        `no gameday worker polls task queue ${queue}: start one with \`gameday worker --task-queue ${queue} --config <worker.yaml>\` \\(or \`gameday dev\`\\); waiting up to 2 s`,
      ),
    );
    assert.match(
      result.stderr,
      new RegExp(
        `no gameday worker polled task queue ${queue} within 2 s, so nothing was started: .* or pass --wait$`,
        'm',
      ),
    );
    assert.equal(await countGameDays(), before, 'nothing was started');
  });

  it('status, report and abort of a game day no worker serves answer at once: exit 6, one line naming the queue', async () => {
    const queue = `nobody-detached-${process.pid}`;
    const served = ['--address', temporal.server.address, '--task-queue', queue];
    const started = await runCli([
      ...served,
      'run',
      writePlan('queued', pausePlan(service)),
      '--detach',
      '--json',
    ]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(
      started.stderr,
      new RegExp(`no gameday worker polls task queue ${queue} yet: it starts when one does`),
    );
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    try {
      for (const command of [
        ['status', workflowId],
        ['report', workflowId],
        ['abort', workflowId, '--reason', 'x'],
      ]) {
        const startedAt = Date.now();
        const result = await runCli([...served, ...command], { timeoutMs: 30_000 });
        assert.equal(result.code, exitCodes.error, `${command[0]}: ${result.stderr}`);
        assert.ok(Date.now() - startedAt < 15_000, `${command[0]} did not wait for a worker`);
        assert.match(
          oneLine(result),
          new RegExp(
            `^game day ${workflowId} is running, but no gameday worker polls its task queue ${queue}, so .*: start one with`,
          ),
        );
      }
    } finally {
      await temporal.client.workflow.getHandle(workflowId).terminate('test: nobody serves it');
    }
  });

  it('list has a header row, filters by plan, outcome and age, and shows a terminated game day as terminated', async () => {
    const all = await gameday('list', '--limit', '100');
    const [header, ...rows] = all.stdout.trim().split('\n');
    assert.match(header ?? '', /^STARTED\s+RESULT\s+WORKFLOW ID$/);
    assert.ok(
      rows.some((row) => /\bterminated\s+gameday-test-pause-/.test(row)),
      all.stdout,
    );
    const aborted = await gameday('list', '--outcome', 'aborted', '--json');
    const abortedRows = JSON.parse(aborted.stdout) as { outcome: string }[];
    assert.ok(abortedRows.length > 0 && abortedRows.every((row) => row.outcome === 'aborted'));
    const ofPlan = JSON.parse(
      (await gameday('list', '--plan', 'test-pause', '--since', '1h', '--json')).stdout,
    ) as {
      plan: string;
    }[];
    assert.ok(ofPlan.length > 0 && ofPlan.every((row) => row.plan === 'test-pause'));
    assert.equal((await gameday('list', '--plan', 'no-such-plan')).stdout.trim(), 'no game days match');
    const bad = await gameday('list', '--plan', "x' OR 1=1");
    assert.equal(bad.code, exitCodes.usage);
    assert.equal((await gameday('list', '--outcome', 'great')).code, exitCodes.usage);
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('mistakes a person makes are one line with their exit code, never a stack trace', async () => {
    for (const command of [
      ['status', 'nope'],
      ['report', 'nope'],
      ['abort', 'nope', '--reason', 'x'],
    ]) {
      const result = await gameday(...command);
      assert.equal(result.code, exitCodes.usage, `${command[0]}: ${result.stderr}`);
      assert.equal(
        oneLine(result),
        'no game day nope in this namespace: `gameday list` shows them (check --namespace)',
      );
    }
    const worker = await runCli(['worker', '--config', '/missing/worker.yaml']);
    assert.equal(worker.code, exitCodes.usage);
    assert.equal(oneLine(worker), 'cannot read worker configuration /missing/worker.yaml: ENOENT');
    // A bad configuration stops `gameday dev` before it starts a dev server (it used to start one and hang).
    const dev = await runCli(['dev', '--config', '/missing/worker.yaml'], { timeoutMs: 20_000 });
    assert.equal(dev.code, exitCodes.usage, dev.stdout + dev.stderr);
    assert.equal(oneLine(dev), 'cannot read worker configuration /missing/worker.yaml: ENOENT');
    assert.equal(dev.stdout, '', 'nothing started');
  });

  it('gameday dev --demo starts the demo service too: the README line that follows it runs the demo and passes', async () => {
    const dev = spawn(process.execPath, [cliPath, 'dev', '--demo'], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    dev.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    dev.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', resolve));
    try {
      const hint = await waitFor(
        'dev prints the run line',
        () => Promise.resolve(/run a plan: (gameday run examples\/demo\.yaml .*)$/m.exec(out)?.[1]),
        120_000,
      );
      assert.match(out, /demo service pid \d+ healthy on http:\/\/127\.0\.0\.1:18181\/health/);
      const args = hint
        .split(' ')
        .slice(1)
        .map((arg) => (arg === 'examples/demo.yaml' ? join(projectRoot, arg) : arg));
      const run = await runCli(args, { timeoutMs: 120_000 });
      assert.equal(run.code, exitCodes.passed, run.stdout + run.stderr);
      assert.match(run.stdout, /# Game day demo-pause: passed/);
    } finally {
      dev.kill('SIGINT');
      assert.equal(await exited, 0, out);
    }
  });

  it('a Temporal that cannot be reached is a clear error, exit 6', async () => {
    const result = await new Promise<CliResult>((resolve) =>
      execFile(process.execPath, [cliPath, '--address', '127.0.0.1:1', 'list'], (error, stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
      ),
    );
    assert.equal(result.code, exitCodes.error);
    assert.match(result.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});
