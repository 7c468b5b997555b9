import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { exitCodes } from '../client/exitCodes';
import { progressEverySamples } from '../client/progress';
import { pausePlan } from './support/plans';
import { startTestService, type TestService } from './support/services';
import {
  cliPath,
  type InProcessWorker,
  startInProcessWorker,
  startTestTemporal,
  type TestTemporal,
} from './support/temporal';
import { runCli, type CliResult } from './support/cli';

/** A progress line: `12:00:01 observe        check frozen: 12 samples, 12 held; last held: …`. */
const progressLine =
  /^\d\d:\d\d:\d\d observe\s+(check|guardrail) ([\w-]+): (\d+) samples?, \d+ held[^;]*; last /;

/** Every progress line of a text, as [kind name, samples]. */
function progressOf(text: string): [string, number][] {
  return text
    .split('\n')
    .map((line) => progressLine.exec(line))
    .filter((match) => match !== null)
    .map((match) => [`${match[1]} ${match[2]}`, Number(match[3])]);
}

/**
 * What a terminal shows after `output`: lines as written, with the cursor moves the CLI uses applied (CR, LF,
 * ESC[nF: n lines up to their start, ESC[J: clear to the end of the screen) and colours dropped.
 */
function screenAfter(output: string): string[] {
  const screen: string[] = [''];
  let row = 0;
  let column = 0;
  // eslint-disable-next-line no-control-regex
  const tokens = output.match(/\u001b\[[0-9;]*[A-Za-z]|\r|\n|[^\u001b\r\n]+/g) ?? [];
  for (const token of tokens) {
    if (token === '\r') column = 0;
    else if (token === '\n') {
      row++;
      column = 0;
      if (screen.length <= row) screen.push('');
    } else if (token.startsWith('\u001b[')) {
      const final = token.at(-1);
      const count = Number(token.slice(2, -1) || '1');
      if (final === 'F') {
        row = Math.max(0, row - count);
        column = 0;
      } else if (final === 'J') {
        screen.length = row + 1;
        screen[row] = (screen[row] ?? '').slice(0, column);
      } else
        assert.equal(final, 'm', `an escape the CLI was not expected to write: ${JSON.stringify(token)}`);
    } else {
      const line = screen[row] ?? '';
      screen[row] = line.slice(0, column) + token + line.slice(column + token.length);
      column += token.length;
    }
  }
  return screen;
}

describe('gameday run shows the samples of the observation window as they come', () => {
  let temporal: TestTemporal;
  let worker: InProcessWorker;
  let service: TestService;

  const globalArgs = () => ['--address', temporal.server.address, '--task-queue', worker.taskQueue];
  const gameday = (...args: string[]): Promise<CliResult> =>
    runCli([...globalArgs(), ...args], { timeoutMs: 90_000 });

  /** A paused service watched for `window`, sampled as fast as its probes answer, with a steady guardrail. */
  const writePlan = (name: string, window: string): string => {
    const file = join(temporal.dir, `${name}.yaml`);
    const plan = pausePlan(service, {
      observation: {
        window,
        sampleInterval: '200ms',
        guardrails: [
          {
            name: 'queue-depth',
            breachAfter: 3,
            command: { argv: ['echo', 'depth 3'], value: { pattern: 'depth (\\d+)', max: 10 } },
          },
        ],
      },
    });
    writeFileSync(file, stringify(plan));
    return file;
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

  it(`piped, a line per check and guardrail is appended every ${progressEverySamples} samples; --report-file gets the clean report`, async () => {
    const reportFile = join(temporal.dir, 'piped.md');
    const result = await gameday('run', writePlan('piped', '10s'), '--report-file', reportFile);
    assert.equal(result.code, exitCodes.passed, result.stdout + result.stderr);
    assert.ok(!result.stdout.includes('\u001b['), 'no escape codes in a pipe');
    const lines = progressOf(result.stdout);
    for (const name of ['check frozen', 'guardrail queue-depth']) {
      const counts = lines.filter(([which]) => which === name).map(([, samples]) => samples);
      assert.ok(counts.length >= 2, `${name}: at least two progress lines in\n${result.stdout}`);
      // One line each time another `progressEverySamples` samples are in, never more often.
      const tens = counts.map((samples) => Math.floor(samples / progressEverySamples));
      assert.ok(tens[0]! >= 1, `${name}: the first line after ${progressEverySamples} samples`);
      tens.slice(1).forEach((ten, i) => assert.ok(ten > tens[i]!, `${name}: ${counts.join(', ')}`));
    }
    assert.match(result.stdout, /guardrail queue-depth: \d+ samples, \d+ held; last held 3: /);
    assert.match(result.stdout, /check frozen: \d+ samples, \d+ held; last held: /);
    // The report is in the file, not between the live lines; standard output ends with where it went.
    assert.doesNotMatch(result.stdout, /# Game day/);
    assert.match(result.stdout, new RegExp(`report written to ${reportFile}\nPASSED`));
    const report = readFileSync(reportFile, 'utf8');
    assert.match(report, /^# Game day test-pause: passed\n/);
    assert.deepEqual(progressOf(report), [], 'no progress lines in the report');
    assert.match(report, /check frozen held in \d+ of \d+ samples/);
    // Detached, nothing would write it: said before anything starts.
    const detached = await gameday(
      'run',
      writePlan('detached', '10s'),
      '--detach',
      '--report-file',
      reportFile,
    );
    assert.equal(detached.code, exitCodes.usage);
    assert.match(
      detached.stderr.trim(),
      /^--report-file needs the game day followed to its end: drop --detach/,
    );
    assert.equal(detached.stderr.trim().split('\n').length, 1);
  });

  it('on a terminal, the lines are redrawn in place below the timeline and put away when the window ends', async () => {
    const reportFile = join(temporal.dir, 'tty.json');
    const args = ['run', writePlan('tty', '6s'), '--report-file', reportFile, '--format', 'json'];
    const command = [process.execPath, cliPath, ...globalArgs(), ...args].map((arg) => `'${arg}'`).join(' ');
    // util-linux script(1) runs the CLI on a real pseudo-terminal, 100 columns wide, and copies what it shows.
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(
        'script',
        ['-qfec', `stty cols 100 rows 50; ${command}`, '/dev/null'],
        { env: { ...process.env, TERM: 'xterm', NO_COLOR: undefined }, timeout: 90_000 },
        (error, stdout) =>
          resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: stdout }),
      ),
    );
    assert.equal(code, exitCodes.passed, output);
    // Two lines (the check and the guardrail), drawn again in place as samples came.
    const redraws = output.split('\u001b[2F\u001b[J').length - 1;
    assert.ok(redraws >= 3, `redrawn ${redraws} times:\n${JSON.stringify(output)}`);
    // eslint-disable-next-line no-control-regex
    const drawn = output.replace(/\u001b\[[0-9;]*m/g, '').replace(/\u001b\[\d*F\u001b\[J/g, '\n');
    // A line of the block that wrapped would break its redraw: each is cut to the terminal's width.
    for (const line of drawn.split(/\r?\n/).filter((text) => progressLine.test(text)))
      assert.ok(line.length < 100, `fits the terminal: ${line}`);
    const seen = progressOf(drawn.replace(/\r/g, ''));
    const frozen = new Set(seen.filter(([name]) => name === 'check frozen').map(([, samples]) => samples));
    assert.ok(frozen.size >= 3, `the check's count moved: ${[...frozen].join(', ')}`);
    const screen = screenAfter(output);
    assert.deepEqual(
      progressOf(screen.join('\n')),
      [],
      `put away when the window ended:\n${screen.join('\n')}`,
    );
    // The timeline stayed whole: each line once, in order.
    const observing = screen.filter((line) => / observe\s+observing for 6s$/.test(line));
    assert.equal(observing.length, 1, screen.join('\n'));
    assert.ok(screen.some((line) => /check frozen held in \d+ of \d+ samples/.test(line)));
    assert.match(screen.join('\n'), new RegExp(`report written to ${reportFile}\nPASSED`));
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      outcome: string;
      checks: { during: unknown[] };
    };
    assert.equal(report.outcome, 'passed');
    assert.equal(report.checks.during.length, 1);
  });

  it('status shows the samples so far in the middle of the window', async () => {
    const started = await gameday('run', writePlan('status', '60s'), '--detach', '--json');
    assert.equal(started.code, 0, started.stderr);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    try {
      let status: CliResult;
      const deadline = Date.now() + 30_000;
      do status = await gameday('status', workflowId);
      while (!/samples so far/.test(status.stdout) && Date.now() < deadline);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^phase: observe/m);
      assert.match(
        status.stdout,
        /samples so far in the window:\n {2}\d\d:\d\d:\d\d observe\s+check frozen: \d+ sample/,
      );
      assert.match(status.stdout, /guardrail queue-depth: \d+ samples?, \d+ held; last held 3: /);
      const json = await gameday('status', workflowId, '--json');
      const state = JSON.parse(json.stdout) as {
        samplesSoFar: { checks: { name: string; samples: number }[]; guardrails: { samples: number }[] };
      };
      assert.equal(state.samplesSoFar.checks[0]?.name, 'frozen');
      assert.ok((state.samplesSoFar.guardrails[0]?.samples ?? 0) >= 1);
    } finally {
      await gameday('abort', workflowId, '--reason', 'test over');
    }
  });
});
