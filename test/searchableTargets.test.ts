import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { searchableTargets, searchableTargetsMaxBytes } from '../workflows/definitions';

describe('GameDayTargets search attribute', () => {
  it('keeps every target of a usual game day', () => {
    assert.deepEqual(searchableTargets(['kafka-1', 'kafka-2', 'local']), ['kafka-1', 'kafka-2', 'local']);
  });

  it('keeps the first whole names that fit under 2 KB when there are hundreds (the report has them all)', () => {
    const targets = Array.from({ length: 200 }, (_, i) => `broker-${i + 1}.eu-west-1.example.com`);
    const kept = searchableTargets(targets);
    assert.ok(kept.length > 10 && kept.length < targets.length, `kept ${kept.length}`);
    assert.deepEqual(kept, targets.slice(0, kept.length));
    assert.ok(Buffer.byteLength(JSON.stringify(kept)) <= searchableTargetsMaxBytes);
    assert.ok(
      Buffer.byteLength(JSON.stringify(targets.slice(0, kept.length + 1))) > searchableTargetsMaxBytes,
    );
  });
});
