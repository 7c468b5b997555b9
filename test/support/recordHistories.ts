// `npm run record-histories`: runs representative game days on a real dev server and saves their histories
// to test/histories/, where the replay test checks that today's workflow code still replays them. Record new
// ones whenever the workflow changes on purpose (and keep the old ones while such runs may still be open).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { projectRoot } from '../../client/paths';
import { abortUpdate } from '../../workflows/definitions';
import { killPlan, pausePlan } from './plans';
import { occupyPort, releasePort, startTestService } from './services';
import { startInProcessWorker, startPlan, startTestTemporal, waitForPhase } from './temporal';
import { sleep } from './wait';

export const historiesDir = join(projectRoot, 'test', 'histories');
/**
 * Histories are kept per workflow generation (see "Workflow versioning" in the README): a new generation is
 * recorded into its own directory when the workflow's commands change on purpose, and an older one is kept
 * while runs started by the code that made it may still be open. v6: the targets of a host fault prepared
 * in one activity and injected in one more (patch `one-activity-per-fault`). v5: host rollbacks in one
 * activity (patch `rollback-in-one-activity`). v4: cancelled activities are waited for
 * before completion (patch `settle-cancelled-activities`). v3: IO evidence, a fault's targets together,
 * metrics sinks (its patch markers are now `deprecatePatch`); kept while v3 runs may be open. v1 and v2 (the
 * first engine, the dead-man switch) are retired: no game day of theirs can still be open.
 */
export const currentGeneration = 'v6';

async function main(): Promise<void> {
  const dir = join(historiesDir, currentGeneration);
  mkdirSync(dir, { recursive: true });
  const temporal = await startTestTemporal();
  const worker = await startInProcessWorker(temporal);
  const service = await startTestService();
  const save = async (name: string, handle: Awaited<ReturnType<typeof startPlan>>) => {
    await handle.result();
    // Binary protobuf: exact, and independent of the SDK's JSON conversion.
    writeFileSync(
      join(dir, `${name}.pb`),
      proto.api.history.v1.History.encode(await handle.fetchHistory()).finish(),
    );
    console.log(`recorded ${name}`);
  };
  try {
    await save('passed', await startPlan(temporal, pausePlan(service), worker.taskQueue));

    const aborted = await startPlan(
      temporal,
      pausePlan(service, { observation: { window: '60s', sampleInterval: '1s' } }),
      worker.taskQueue,
    );
    await waitForPhase(aborted, 'observe');
    await aborted.executeUpdate(abortUpdate, { args: [{ reason: 'recorded abort' }] });
    await save('aborted-by-user', aborted);

    // A during-check that deviates: IO evidence is collected before the rollback.
    const deviating = pausePlan(service);
    (deviating.checks as unknown[]).push({
      name: 'deviates',
      when: ['during'],
      command: { argv: ['false'] },
    });
    await save('during-deviated', await startPlan(temporal, deviating, worker.taskQueue));

    const url = `http://127.0.0.1:${service.port}/health`;
    const guarded = pausePlan(service, {
      observation: {
        window: '60s',
        sampleInterval: '500ms',
        guardrails: [{ name: 'answers', http: { url, timeout: '300ms' } }],
      },
    });
    await save('guardrail-breach', await startPlan(temporal, guarded, worker.taskQueue));

    const halfway = pausePlan(service, {
      faults: [
        { name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } },
        {
          name: 'missing',
          kind: 'process-pause',
          target: 'here',
          params: { pidfile: '/tmp/gameday-missing.pid' },
        },
      ],
    });
    await save('inject-failed', await startPlan(temporal, halfway, worker.taskQueue));

    const stuck = await startPlan(temporal, killPlan(service, '1s', '3s'), worker.taskQueue);
    await waitForPhase(stuck, 'observe');
    const squatter = await occupyPort(service.port);
    await waitForPhase(stuck, 'rollback-stuck', 60_000);
    await sleep(500);
    await releasePort(squatter);
    await save('rollback-stuck-then-fixed', stuck);
  } finally {
    await service.stop();
    await worker.stop();
    await temporal.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
