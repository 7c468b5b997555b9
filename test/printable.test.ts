import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { IoEvidence } from '../activities/diagnosis/evidence';
import { resolvePlan } from '../activities/resolve';
import { main } from '../client/main';
import { projectRoot } from '../client/paths';
import { outcomeLine, renderDryRun, renderReport, timelineLine } from '../client/render';
import { renderIoEvidence } from '../client/renderIo';
import { parsePlan } from '../plan/load';
import type { CheckResult, GameDayReport, SampleSummary } from '../workflows/definitions';

// What a plan, a host or a server could put in the data the CLI prints: a title change (OSC), a bell, a
// C1 CSI that clears the screen, a carriage return that overwrites the line.
const hostile = '\u001b]0;owned\u0007\u009b2J\r';
/** C0 (but newline and tab), DEL and C1: what a terminal acts on. */
const isControl = (character: string) => {
  const code = character.charCodeAt(0);
  return (code < 0x20 && character !== '\n' && character !== '\t') || (code >= 0x7f && code <= 0x9f);
};

/** Every string value made hostile (keys stay, so that the code reading fields finds them). */
function everyValueHostile<T>(value: T): T {
  if (typeof value === 'string') return `${value}${hostile}` as T;
  if (Array.isArray(value)) return value.map((item: unknown) => everyValueHostile(item)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, everyValueHostile(item)]),
    ) as T;
  }
  return value;
}

function assertPrintable(text: string, what: string): void {
  const found = [...text].find(isControl);
  assert.equal(found, undefined, `${what} prints U+${found?.charCodeAt(0).toString(16) ?? ''} raw`);
  assert.ok(text.includes('\\x1b]0;owned\\x07\\x9b2J\\x0d'), `${what} shows the escaped characters`);
}

const at = '2026-01-02T03:04:05.000Z';
const check = (name: string): CheckResult => ({
  name,
  holds: false,
  expect: 'pass',
  detail: 'curl said',
  at,
});
const summary = (name: string): SampleSummary => ({
  name,
  samples: 3,
  held: 1,
  unknown: 1,
  firstDeviation: check(name),
  last: check(name),
  min: 1,
  max: 2,
});
const evidence: IoEvidence = {
  host: 'kafka-1',
  collectedAt: at,
  intervalMs: 2000,
  stateSamples: 4,
  focus: { kind: 'container', value: 'web', pids: [7] },
  finding: 'kafka writes',
  devices: [
    {
      name: 'vda',
      numbers: '253:0',
      utilisationPercent: 90,
      readsPerSecond: 1,
      writesPerSecond: 2,
      readBytesPerSecond: 3,
      writeBytesPerSecond: 4,
      queueSize: 1,
    },
  ],
  processes: [
    {
      pid: 7,
      comm: 'java',
      kernelThread: false,
      readBytesPerSecond: 1,
      writeBytesPerSecond: 2,
      readCharsPerSecond: 3,
      writeCharsPerSecond: 4,
      waitingSamples: 1,
    },
  ],
  waiting: [],
  pressure: { somePercent: 10, someAvg10: 1 },
  openFiles: [
    {
      pid: 7,
      fd: 3,
      path: '/var/log/x',
      deleted: true,
      mode: 'write',
      direct: false,
      sizeBytes: 1,
      growthBytesPerSecond: 2,
      device: 'vda',
    },
  ],
  filesystems: [
    {
      source: '/dev/vda',
      mountPoint: '/',
      sizeBytes: 10,
      usedBytes: 5,
      usedPercent: 50,
      growthBytesPerSecond: 1,
    },
  ],
  growingPaths: [{ path: '/var/log', growthBytesPerSecond: 1, sizeBytes: 2 }],
  unavailable: ['iotop'],
};
const report: GameDayReport = {
  workflowId: 'gameday-x-1',
  plan: 'x',
  owner: 'sre',
  planDigest: 'abc',
  tag: 'tag',
  seed: 1,
  phase: 'done',
  outcome: 'failed',
  reason: 'it deviated',
  startedAt: at,
  finishedAt: at,
  targets: ['kafka-1'],
  faults: [
    {
      id: 'f@kafka-1',
      fault: 'f',
      kind: 'stress',
      target: 'kafka-1',
      inject: 'stress',
      rollback: 'kill',
      status: 'rolled-back',
      injectedAt: at,
      rolledBackAt: at,
      rollbackAttempts: 1,
      error: 'once failed',
    },
  ],
  checks: {
    preflight: [check('up')],
    during: [summary('up')],
    guardrails: [summary('answers')],
    breach: check('answers'),
    recovery: { recovered: false, afterMs: 10, results: [check('up')] },
  },
  lastChecks: { up: check('up') },
  timeline: [{ at, phase: 'observe', message: 'guardrail answers: connection refused' }],
  ioEvidence: [
    { when: 'during', reason: 'a check deviated', hosts: [evidence, { host: 'db-1', error: 'no iostat' }] },
  ],
};

describe('everything the CLI prints from data has its control characters escaped', () => {
  it('reports, their outcome line and the live timeline', () => {
    const bad = everyValueHostile(report);
    assertPrintable(renderReport(bad, `http://ui/${hostile}`), 'the report');
    assertPrintable(outcomeLine(bad), 'the outcome line');
    for (const entry of bad.timeline) assertPrintable(timelineLine(entry), 'a timeline line');
  });

  it('IO evidence from a host (file names, commands, findings)', () => {
    assertPrintable(renderIoEvidence(everyValueHostile(evidence)), 'IO evidence');
  });

  it('the dry run, from a plan and what resolving it said', () => {
    const parsed = parsePlan(readFileSync(join(projectRoot, 'examples', 'demo.yaml'), 'utf8'), 'demo.yaml');
    assert.ok(parsed.ok);
    const resolved = resolvePlan({ allowLocalTargets: true }, { plan: parsed.plan, seed: 1, tag: 't' });
    // Checks are described by name: the plan's names, hostile too.
    const checks = Object.fromEntries(
      Object.entries(resolved.checks).map(([name, words]) => [`${name}${hostile}`, `${words}${hostile}`]),
    );
    const plan = everyValueHostile(parsed.plan);
    // `when` decides which section shows a check: kept as it was, so that every check is shown.
    plan.checks = plan.checks.map((c, i) => ({ ...c, when: parsed.plan.checks[i]?.when ?? [] }));
    const text = renderDryRun(plan, { ...everyValueHostile(resolved), checks }, 1);
    assert.ok(text.includes('service-healthy\\x1b'), 'a check and its description are shown');
    assertPrintable(text, 'the dry run');
  });

  it('error messages, which carry data too', async () => {
    const original = console.error;
    const printed: string[] = [];
    console.error = (line: string) => printed.push(line);
    try {
      assert.equal(await main(['diagnose', 'io', '--host', 'local', '--pid', hostile]), 2);
    } finally {
      console.error = original;
    }
    assertPrintable(printed.join('\n'), 'a usage error');
  });
});
