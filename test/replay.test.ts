import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { createGameDayMetrics } from '../activities/metrics';
import { gameDaySinks } from '../worker/sinks';
import { workflowSource } from '../worker/workflowCode';
import { currentGeneration, historiesDir } from './support/recordHistories';

// Histories recorded from real runs (npm run record-histories). If workflow code changes in a way that
// breaks determinism, open game days could no longer finish their rollbacks: this test fails first.
describe('replay of recorded histories', () => {
  const files = readdirSync(historiesDir, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.pb'),
  );

  it('covers the main paths', () => {
    for (const name of [
      'passed',
      'aborted-by-user',
      'guardrail-breach',
      'inject-failed',
      'rollback-stuck-then-fixed',
    ]) {
      const file = join(currentGeneration, `${name}.pb`);
      assert.ok(files.includes(file), `history ${file} is recorded`);
    }
  });

  it("today's workflow code replays every recorded history without non-determinism", async () => {
    const histories = files.map((file) => ({
      workflowId: file,
      history: proto.api.history.v1.History.decode(readFileSync(join(historiesDir, file))),
    }));
    // The metric sinks are registered as on a real worker; replaying must not count a game day again.
    const metrics = createGameDayMetrics();
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { ...workflowSource(), sinks: gameDaySinks(metrics) },
      histories,
    )) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
      replayed++;
    }
    assert.equal(replayed, files.length);
    assert.doesNotMatch(
      await metrics.registry.metrics(),
      /^gameday_(game_days|rollback_stuck_entered)_total\{/m,
    );
  });
});
