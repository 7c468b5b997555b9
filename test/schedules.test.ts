import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { stringify } from 'yaml';
import { exitCodes } from '../client/exitCodes';
import { startDemoService } from '../client/demoService';
import { projectRoot } from '../client/paths';
import { freezeCalendars } from '../client/scheduleSpec';
import { formatPlanError } from '../plan/load';
import { loadScheduleFile, parseSchedule } from '../plan/loadSchedule';
import { scheduleJsonSchema } from '../plan/schedule';
import { searchAttributes } from '../workflows/definitions';
import type { gameDay } from '../workflows/gameDay';
import { unboundedIn } from './support/jsonSchemaBounds';
import { killPlan, pausePlan } from './support/plans';
import { occupyPort, releasePort, startTestService, type TestService } from './support/services';
import {
  startInProcessWorker,
  startPlan,
  startTestTemporal,
  waitForPhase,
  type InProcessWorker,
  type TestTemporal,
} from './support/temporal';
import { runCli, type CliResult } from './support/cli';
import { waitFor } from './support/wait';

const scheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);

/** A schedule document as users write it; tests override what they need. */
function scheduleDocument(name: string, plan: string, overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: 'gameday.dev/v1alpha1',
    kind: 'Schedule',
    metadata: { name, owner: 'tests' },
    plan,
    cron: ['0 3 * * *'],
    ...overrides,
  };
}

describe('schedule files', () => {
  const errorsOf = (document: Record<string, unknown>) => {
    const parsed = parseSchedule(stringify(document), 'nightly.yaml');
    assert.equal(parsed.ok, false, 'the schedule should be refused');
    return parsed.ok ? [] : parsed.errors.map(formatPlanError);
  };

  it('refuses TERMINATE_OTHER and CANCEL_OTHER at their line, saying they would cut a rollback', () => {
    for (const overlap of ['TERMINATE_OTHER', 'CANCEL_OTHER']) {
      assert.deepEqual(errorsOf(scheduleDocument('n', 'plan.yaml', { overlap })), [
        `nightly.yaml:9:10: overlap: ${overlap} would cut the rollback of a game day still running: use SKIP (the default) or BUFFER_ONE`,
      ]);
    }
    const parsed = parseSchedule(
      stringify(scheduleDocument('n', 'p.yaml', { overlap: 'BUFFER_ONE' })),
      'n.yaml',
    );
    assert.ok(parsed.ok);
  });

  it('defaults: overlap SKIP, a catch-up window of 1 h (never a year), UTC, no pause on failure', () => {
    const parsed = parseSchedule(stringify(scheduleDocument('n', 'p.yaml')), 'n.yaml');
    assert.ok(parsed.ok);
    assert.equal(parsed.value.overlap, 'SKIP');
    assert.equal(parsed.value.catchupWindow, '1h');
    assert.equal(parsed.value.timezone, 'UTC');
    assert.equal(parsed.value.pauseOnFailure, false);
    assert.match(errorsOf(scheduleDocument('n', 'p.yaml', { catchupWindow: '48h' }))[0] ?? '', /at most 24h/);
  });

  it('says what is wrong where: no time given, an unknown time zone, a freeze ending before it starts', () => {
    const { cron: _cron, ...noTimes } = scheduleDocument('n', 'p.yaml');
    assert.deepEqual(errorsOf(noTimes), ['nightly.yaml:1:1: give when it runs: cron, calendars or both']);
    assert.match(
      errorsOf(scheduleDocument('n', 'p.yaml', { timezone: 'Mars/Olympus' }))[0] ?? '',
      /^nightly\.yaml:9:11: timezone: is not a time zone/,
    );
    assert.match(
      errorsOf(
        scheduleDocument('n', 'p.yaml', { skip: [{ freeze: { from: '2026-12-20', to: '2026-12-01' } }] }),
      )[0] ?? '',
      /skip\[0\]\.freeze\.to: a freeze window must end on or after the day it starts/,
    );
  });

  it('a plan that cannot be read is reported at the schedule’s plan line; a broken plan at its own line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gameday-schedules-'));
    writeFileSync(join(dir, 'missing.yaml'), stringify(scheduleDocument('n', 'nope.yaml')));
    const missing = await loadScheduleFile(join(dir, 'missing.yaml'));
    assert.ok(!missing.ok);
    assert.match(
      formatPlanError(missing.errors[0]!),
      /missing\.yaml:6:1: plan: cannot read .*nope\.yaml: no such file/,
    );
    writeFileSync(
      join(dir, 'broken-plan.yaml'),
      'apiVersion: gameday.dev/v1alpha1\nkind: GameDay\nmetadata: {}\n',
    );
    writeFileSync(join(dir, 'broken.yaml'), stringify(scheduleDocument('n', 'broken-plan.yaml')));
    const broken = await loadScheduleFile(join(dir, 'broken.yaml'));
    assert.ok(!broken.ok);
    assert.match(formatPlanError(broken.errors[0]!), /broken-plan\.yaml:\d+:\d+: /);
  });

  it('bounds every string, list and map of a schedule', () => {
    assert.deepEqual(unboundedIn(scheduleJsonSchema()), []);
  });

  it('a freeze window becomes one whole-day calendar per month it touches', () => {
    const calendars = freezeCalendars('2026-12-20', '2027-01-04');
    assert.deepEqual(
      calendars.map((c) => [c.year, c.month, c.dayOfMonth, c.hour]),
      [
        [2026, 'DECEMBER', { start: 20, end: 31 }, '*'],
        [2027, 'JANUARY', { start: 1, end: 4 }, '*'],
      ],
    );
  });

  it('the example schedules are valid, with their plans', async () => {
    const loaded = await loadScheduleFile(join(projectRoot, 'examples', 'schedules', 'nightly-demo.yaml'));
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatPlanError).join('\n'));
    assert.equal(loaded.runs === 'game-day' && loaded.plan.metadata.name, 'demo-pause');
    const sweep = await loadScheduleFile(join(projectRoot, 'examples', 'schedules', 'nightly-janitor.yaml'));
    assert.ok(sweep.ok, sweep.ok ? '' : sweep.errors.map(formatPlanError).join('\n'));
    assert.deepEqual(sweep.runs === 'janitor' && sweep.janitor, { apply: false });
  });

  it('a janitor schedule names a sweep instead of a plan: never both, never neither, never pausing on failure', () => {
    const janitorDocument = (overrides: Record<string, unknown>) => {
      const { plan: _plan, ...rest } = scheduleDocument('sweep', 'unused.yaml', overrides);
      return rest;
    };
    const ok = parseSchedule(
      stringify(janitorDocument({ janitor: { targets: ['db-1'], notify: ['oncall'] } })),
      'sweep.yaml',
    );
    assert.ok(ok.ok);
    assert.deepEqual(ok.value.janitor, { apply: false, targets: ['db-1'], notify: ['oncall'] });
    const errorsOf = (document: Record<string, unknown>): string => {
      const parsed = parseSchedule(stringify(document), 'sweep.yaml');
      assert.ok(!parsed.ok, 'refused');
      return parsed.errors.map(formatPlanError).join('\n');
    };
    assert.match(
      errorsOf(janitorDocument({})),
      /give what it runs: a game day \(plan: FILE\) or a janitor sweep/,
    );
    assert.match(
      errorsOf(scheduleDocument('sweep', 'plan.yaml', { janitor: { apply: true } })),
      /a janitor sweep \(janitor: \{…\}\), one of them/,
    );
    assert.match(
      errorsOf(janitorDocument({ janitor: {}, pauseOnFailure: true })),
      /^sweep\.yaml:\d+:\d+: pauseOnFailure: a janitor sweep does not pause its schedule/m,
    );
    // The same shared rules as everywhere: a host name with a shell metacharacter, an unknown key.
    assert.match(
      errorsOf(janitorDocument({ janitor: { targets: ['db-1;reboot'] } })),
      /^sweep\.yaml:\d+:\d+: janitor\.targets\[0\]: must be .*a host name/m,
    );
    assert.match(errorsOf(janitorDocument({ janitor: { apply: true, force: true } })), /force/);
  });
});

describe('gameday schedule against a real dev server', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let service: TestService;
  let dir: string;

  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli(['--address', temporal.server.address, '--task-queue', worker.taskQueue, ...args], {
      timeoutMs: 120_000,
    });

  const write = (path: string, document: Record<string, unknown>): string => {
    const file = join(dir, path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, stringify(document));
    return file;
  };

  const describeSchedule = (id: string) => temporal.client.schedule.getHandle(id).describe();
  const listedSchedules = async () => {
    const ids: string[] = [];
    for await (const summary of temporal.client.schedule.list()) ids.push(summary.scheduleId);
    return ids;
  };

  /** Triggers through the CLI and returns the started game day's id. */
  const trigger = async (id: string): Promise<string> => {
    const result = await gameday('schedule', 'trigger', id, '--json');
    assert.equal(result.code, 0, result.stderr);
    const { workflowId } = JSON.parse(result.stdout) as { workflowId: string | null };
    assert.ok(workflowId, `trigger started a run: ${result.stdout}`);
    return workflowId;
  };
  const resultOf = (workflowId: string) =>
    temporal.client.workflow.getHandle<typeof gameDay>(workflowId).result();

  before(async () => {
    temporal = await startTestTemporal();
    worker = await startInProcessWorker(temporal);
    service = await startTestService();
    dir = join(temporal.dir, 'schedules');
    write('plans/pause.yaml', pausePlan(service, { metadata: { name: 'test-nightly', owner: 'tests' } }));
  });
  after(async () => {
    await service?.stop();
    await worker?.stop();
    await temporal?.stop();
  });

  it('apply creates the schedule with the plan embedded; a second apply changes nothing', async () => {
    write('nightly/nightly.yaml', scheduleDocument('nightly', '../plans/pause.yaml', { note: 'tests' }));
    const created = await gameday('schedule', 'apply', join(dir, 'nightly'));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^\+ schedule nightly created$/m);
    const description = await describeSchedule('nightly');
    assert.equal(description.policies.overlap, 'SKIP');
    assert.equal(description.policies.catchupWindow, 3_600_000);
    assert.equal(description.memo?.managedBy, 'gameday');
    const input = description.action.args?.[0] as {
      plan: { metadata: { name: string } };
      planDigest: string;
    };
    assert.equal(input.plan.metadata.name, 'test-nightly', 'the plan itself is embedded, not its path');
    assert.match(input.planDigest, /^[0-9a-f]{16}$/);

    const again = await gameday('schedule', 'apply', join(dir, 'nightly'), '--json');
    assert.equal(again.code, 0, again.stderr);
    const steps = (JSON.parse(again.stdout) as { schedules: { id: string; action: string }[] }).schedules;
    assert.deepEqual(
      steps.map((s) => [s.id, s.action]),
      [['nightly', 'unchanged']],
    );
    assert.equal((await describeSchedule('nightly')).info.lastUpdatedAt, undefined, 'not updated');
  });

  it('a changed plan shows in --dry-run as a digest diff, changes nothing, then apply updates it', async () => {
    const before = (await describeSchedule('nightly')).action.args?.[0] as { planDigest: string };
    write(
      'plans/pause.yaml',
      pausePlan(service, {
        metadata: { name: 'test-nightly', owner: 'tests' },
        observation: { window: '3s', sampleInterval: '500ms' },
      }),
    );
    const dryRun = await gameday('schedule', 'apply', join(dir, 'nightly'), '--dry-run');
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /^~ schedule nightly would be updated$/m);
    assert.match(dryRun.stdout, new RegExp(`^-   plan digest: ${before.planDigest}$`, 'm'));
    const next = /^\+ {3}plan digest: ([0-9a-f]{16})$/m.exec(dryRun.stdout)?.[1];
    assert.ok(next !== undefined && next !== before.planDigest, dryRun.stdout);
    assert.ok(!/cron/.test(dryRun.stdout), 'only what changes is shown');
    const unchanged = (await describeSchedule('nightly')).action.args?.[0] as { planDigest: string };
    assert.equal(unchanged.planDigest, before.planDigest, 'a dry run changes nothing');

    const applied = await gameday('schedule', 'apply', join(dir, 'nightly'));
    assert.match(applied.stdout, /^~ schedule nightly updated$/m);
    const after = (await describeSchedule('nightly')).action.args?.[0] as {
      planDigest: string;
      plan: { observation: { window: number } };
    };
    assert.equal(after.planDigest, next);
    assert.equal(after.plan.observation.window, 3000);
  });

  it('--prune deletes the schedules gameday applied that no file names, and leaves others alone', async () => {
    write('weekly/weekly.yaml', scheduleDocument('weekly', '../plans/pause.yaml', { cron: ['0 4 * * 0'] }));
    assert.equal((await gameday('schedule', 'apply', join(dir, 'weekly'))).code, 0);
    await temporal.client.schedule.create({
      scheduleId: 'someone-elses',
      spec: { cronExpressions: ['0 5 * * *'] },
      action: { type: 'startWorkflow', workflowType: 'other', taskQueue: 'other', args: [] },
      state: { paused: true },
    });
    await waitFor('the schedules are listed', async () => {
      const ids = await listedSchedules();
      return ['nightly', 'weekly', 'someone-elses'].every((id) => ids.includes(id)) || undefined;
    });
    const dryRun = await gameday('schedule', 'apply', join(dir, 'nightly'), '--prune', '--dry-run');
    assert.match(dryRun.stdout, /^- schedule weekly would be deleted/m);
    assert.ok(!dryRun.stdout.includes('someone-elses'));
    const pruned = await gameday('schedule', 'apply', join(dir, 'nightly'), '--prune', '--json');
    assert.equal(pruned.code, 0, pruned.stderr);
    const steps = (JSON.parse(pruned.stdout) as { schedules: { id: string; action: string }[] }).schedules;
    assert.deepEqual(
      steps.map((s) => [s.id, s.action]),
      [
        ['nightly', 'unchanged'],
        ['weekly', 'delete'],
      ],
    );
    await assert.rejects(describeSchedule('weekly'), /not found/i);
    assert.equal((await describeSchedule('someone-elses')).scheduleId, 'someone-elses');
    const foreign = await gameday('schedule', 'pause', 'someone-elses', '--reason', 'x');
    assert.equal(foreign.code, exitCodes.usage);
    assert.match(foreign.stderr, /^schedule someone-elses was not created by gameday/);
  });

  it('trigger runs a real game day that passes, carrying the schedule id; list --schedule finds it', async () => {
    const workflowId = await trigger('nightly');
    assert.match(workflowId, /^gameday-test-nightly-/);
    const report = await resultOf(workflowId);
    assert.equal(report.outcome, 'passed', report.reason);
    assert.match(report.tag, /^[0-9a-f]{8}$/, 'a scheduled run draws its own tag');
    const handle = temporal.client.workflow.getHandle(workflowId);
    const run = await handle.describe();
    assert.equal(run.typedSearchAttributes.get(scheduledById), 'nightly');
    assert.equal(run.typedSearchAttributes.get(searchAttributes.plan), 'test-nightly');
    assert.equal(run.typedSearchAttributes.get(searchAttributes.outcome), 'passed');
    assert.equal(run.memo?.planDigest, report.planDigest);
    assert.equal(run.memo?.owner, 'tests');
    assert.equal(run.memo?.tag, report.tag);
    assert.equal(run.memo?.startedBy, 'schedule nightly');
    assert.match((await run.staticSummary()) ?? '', /^test-nightly: pause \(owner tests\)$/);

    const listed = await waitFor('list --schedule shows the run', async () => {
      const result = await gameday('list', '--schedule', 'nightly', '--json');
      const rows = JSON.parse(result.stdout) as { workflowId: string; outcome: string }[];
      return rows.some((row) => row.workflowId === workflowId && row.outcome === 'passed') ? rows : undefined;
    });
    assert.ok(listed.every((row) => row.workflowId.startsWith('gameday-test-nightly-')));
    const other = await gameday('list', '--schedule', 'weekly', '--json');
    assert.deepEqual(JSON.parse(other.stdout), []);

    const described = await gameday('schedule', 'describe', 'nightly');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, new RegExp(`passed\\s+${workflowId}`));
  });

  it('describe says when it runs in words and shows the next 5 runs, skipping a freeze window', async () => {
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    write(
      'nightly/nightly.yaml',
      scheduleDocument('nightly', '../plans/pause.yaml', {
        note: 'tests',
        skip: [{ freeze: { from: day(1), to: day(2) }, comment: 'release week' }],
      }),
    );
    assert.equal((await gameday('schedule', 'apply', join(dir, 'nightly'))).code, 0);
    const result = await gameday('schedule', 'describe', 'nightly', '--json');
    assert.equal(result.code, 0, result.stderr);
    const described = JSON.parse(result.stdout) as { spec: string[]; nextRuns: string[]; paused: boolean };
    assert.ok(described.spec.includes('cron "0 3 * * *"'), described.spec.join('\n'));
    assert.ok(described.spec.includes('time zone UTC'));
    assert.ok(described.spec.some((line) => line.includes(`freeze ${day(1)} to ${day(2)} (release week)`)));
    assert.equal(described.nextRuns.length, 5);
    for (const at of described.nextRuns) assert.match(at, /T03:00:00\.000Z$/);
    const days = described.nextRuns.map((at) => at.slice(0, 10));
    assert.ok(!days.includes(day(1)) && !days.includes(day(2)), `frozen days skipped: ${days.join(', ')}`);
    const text = await gameday('schedule', 'describe', 'nightly');
    assert.match(text.stdout, /^next runs:\n( {2}\d{4}-.*Z\n){5}/m);
  });

  it('pause needs a reason, stops runs and says why; unpause starts them again; apply keeps a pause', async () => {
    const noReason = await gameday('schedule', 'pause', 'nightly', '--reason', ' ');
    assert.equal(noReason.code, exitCodes.usage);
    const paused = await gameday('schedule', 'pause', 'nightly', '--reason', 'incident INC-42');
    assert.equal(paused.code, 0, paused.stderr);
    let description = await describeSchedule('nightly');
    assert.equal(description.state.paused, true);
    assert.equal(description.state.note, 'incident INC-42');
    write('nightly/nightly.yaml', scheduleDocument('nightly', '../plans/pause.yaml', { note: 'changed' }));
    assert.equal((await gameday('schedule', 'apply', join(dir, 'nightly'))).code, 0);
    description = await describeSchedule('nightly');
    assert.equal(description.state.paused, true, 'apply does not unpause');
    const listed = await gameday('schedule', 'list');
    assert.match(listed.stdout, /nightly .* paused: incident INC-42/);
    assert.equal((await gameday('schedule', 'unpause', 'nightly')).code, 0);
    assert.equal((await describeSchedule('nightly')).state.paused, false);
  });

  it('user errors are one line with exit code 2 and no stack trace', async () => {
    const unknown = await gameday('schedule', 'describe', 'no-such-schedule');
    assert.equal(unknown.code, exitCodes.usage);
    assert.equal(unknown.stderr.trim(), 'no schedule no-such-schedule');
    const badId = await gameday('list', '--schedule', "x' OR 1=1");
    assert.equal(badId.code, exitCodes.usage);
    assert.equal(badId.stderr.trim().split('\n').length, 1);
    const refused = write(
      'bad/bad.yaml',
      scheduleDocument('bad', '../plans/pause.yaml', { overlap: 'TERMINATE_OTHER' }),
    );
    const apply = await gameday('schedule', 'apply', refused);
    assert.equal(apply.code, exitCodes.usage);
    assert.match(apply.stderr.trim(), /^.*bad\.yaml:9:10: overlap: TERMINATE_OTHER would cut the rollback/);
    assert.equal(apply.stderr.trim().split('\n').length, 1);
    await assert.rejects(describeSchedule('bad'), /not found/i);
    const future = await gameday(
      'schedule',
      'backfill',
      'nightly',
      '--from',
      '2026-01-01T00:00:00Z',
      '--to',
      '2999-01-01T00:00:00Z',
    );
    assert.equal(future.code, exitCodes.usage);
    assert.match(future.stderr, /in the future/);
  });

  it('the README path: apply examples/schedules/ creates both nightly schedules, trigger runs the demo, describe shows it passed, a second apply changes nothing', async () => {
    const examples = join(projectRoot, 'examples', 'schedules');
    const demo = await startDemoService(18181, '/tmp/gameday-demo/demo-service.pid');
    try {
      const created = await gameday('schedule', 'apply', examples);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /^\+ schedule nightly-demo created$/m);
      assert.match(created.stdout, /^\+ schedule nightly-janitor created$/m);
      const again = await gameday('schedule', 'apply', examples);
      assert.match(
        again.stdout,
        /^= schedule nightly-demo unchanged\n= schedule nightly-janitor unchanged$/m,
      );

      const workflowId = await trigger('nightly-demo');
      const report = await resultOf(workflowId);
      assert.equal(report.outcome, 'passed', report.reason);
      const described = await waitFor('describe shows the run and its outcome', async () => {
        const result = await gameday('schedule', 'describe', 'nightly-demo');
        return new RegExp(`passed\\s+${workflowId}`).test(result.stdout) ? result.stdout : undefined;
      });
      assert.match(
        described,
        /^schedule nightly-demo: plan demo-pause \(digest [0-9a-f]{16}\), owner sre-demo$/m,
      );
      assert.match(described, /^ {2}cron "0 3 \* \* 1-5"\n {2}time zone Europe\/Berlin$/m, 'when it runs');
    } finally {
      await demo.stop();
      for (const id of ['nightly-demo', 'nightly-janitor']) await gameday('schedule', 'delete', id);
    }
  });

  it('backfill starts the run a past range should have had, and it passes', async () => {
    const from = new Date(Date.now() - 2 * 86_400_000);
    from.setUTCHours(2, 0, 0, 0);
    const to = new Date(from.getTime() + 2 * 3_600_000); // covers one 03:00 run
    const result = await gameday(
      'schedule',
      'backfill',
      'nightly',
      '--from',
      from.toISOString(),
      '--to',
      to.toISOString(),
    );
    assert.equal(result.code, 0, result.stderr);
    const expected = new Date(from.getTime() + 3_600_000).toISOString().replace(/\.000Z$/, 'Z');
    const run = await waitFor('the backfilled run', async () => {
      const description = await describeSchedule('nightly');
      return description.info.recentActions.find((action) =>
        action.scheduledAt.toISOString().startsWith(expected.slice(0, 16)),
      );
    });
    const report = await resultOf(run.action.workflow.workflowId);
    assert.equal(report.outcome, 'passed', report.reason);
  });

  it('pauseOnFailure pauses the schedule after a run that did not pass, naming the run', async () => {
    const broken = pausePlan(service, { metadata: { name: 'test-fragile', owner: 'tests' } });
    (broken.checks as { http: { url: string } }[])[0]!.http.url = `http://127.0.0.1:${service.port}/nope`;
    write('plans/fragile.yaml', broken);
    write(
      'fragile/fragile.yaml',
      scheduleDocument('fragile', '../plans/fragile.yaml', { pauseOnFailure: true }),
    );
    assert.equal((await gameday('schedule', 'apply', join(dir, 'fragile'))).code, 0);
    const workflowId = await trigger('fragile');
    assert.equal((await resultOf(workflowId)).outcome, 'not-started');
    const description = await describeSchedule('fragile');
    assert.equal(description.state.paused, true);
    assert.match(
      description.state.note ?? '',
      new RegExp(`^paused by ${workflowId}: not-started: steady state`),
    );
  });

  it('a scheduled game day refuses to start while an earlier run of the same plan is rollback-stuck', async () => {
    const stuckService = await startTestService();
    let squatter: Server | undefined;
    try {
      const plan = killPlan(stuckService, '1s', '3s');
      write('plans/kill.yaml', plan);
      write('stuck/kill.yaml', scheduleDocument('nightly-kill', '../plans/kill.yaml'));
      assert.equal((await gameday('schedule', 'apply', join(dir, 'stuck'))).code, 0);
      // A real earlier run of the plan whose rollback cannot succeed: its port is taken by someone else.
      const earlier = await startPlan(temporal, plan, worker.taskQueue);
      await waitForPhase(earlier, 'observe');
      squatter = await occupyPort(stuckService.port);
      await waitForPhase(earlier, 'rollback-stuck', 60_000);
      await waitFor('visibility shows it stuck', async () => {
        const stuck = await temporal.client.workflow.count(
          `GameDayPlan = 'test-kill' AND GameDayPhase = 'rollback-stuck' AND ExecutionStatus = 'Running'`,
        );
        return stuck.count === 1 || undefined;
      });

      const refused = await resultOf(await trigger('nightly-kill'));
      assert.equal(refused.outcome, 'not-started');
      assert.equal(
        refused.reason,
        `a scheduled game day does not start on an unclean system: earlier run ${earlier.workflowId} of test-kill is still rollback-stuck`,
      );
      assert.deepEqual(refused.faults, [], 'nothing was injected');
      assert.equal(
        (await describeSchedule('nightly-kill')).state.paused,
        false,
        'no pauseOnFailure: not paused',
      );
      assert.equal(readFileSync(stuckService.pidfile, 'utf8').length > 0, true);

      await releasePort(squatter); // the person fixes it
      squatter = undefined;
      assert.equal((await earlier.result()).outcome, 'passed');
      await waitFor('visibility shows it finished', async () => {
        const stuck = await temporal.client.workflow.count(
          `GameDayPlan = 'test-kill' AND GameDayPhase = 'rollback-stuck' AND ExecutionStatus = 'Running'`,
        );
        return stuck.count === 0 || undefined;
      });
      const next = await resultOf(await trigger('nightly-kill'));
      assert.equal(next.outcome, 'passed', `once clean, the next scheduled run starts: ${next.reason ?? ''}`);
    } finally {
      squatter?.close();
      await stuckService.stop();
    }
  });
});
