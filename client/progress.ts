import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { ObserveProgress } from '../activities/observe';
import type { SampleSummary } from '../workflows/definitions';
import { printable } from './printable';
import { style } from './style';

/** When piped, a check's or guardrail's line is appended each time it has this many more samples. */
export const progressEverySamples = 10;

/** The samples so far of an observation window, checks and guardrails in the plan's order. */
export interface SamplesSoFar {
  readonly checks: readonly SampleSummary[];
  readonly guardrails: readonly SampleSummary[];
}

/**
 * The samples the running observation window holds so far: the observation activity heartbeats them (at most
 * about once a second reach the server), and they are read from the workflow's pending activities. Undefined
 * when no window is being sampled, or before its first sample.
 */
export async function samplesSoFar(handle: WorkflowHandle): Promise<SamplesSoFar | undefined> {
  const { raw } = await handle.describe();
  const observing = raw.pendingActivities?.find((activity) => activity.activityType?.name === 'observe');
  const payloads = observing?.heartbeatDetails?.payloads;
  if (!payloads || payloads.length === 0) return undefined;
  const progress = await decodeFromPayloadsAtIndex<ObserveProgress | undefined>(
    handle.client.options.loadedDataConverter,
    0,
    payloads,
  );
  const samples = {
    checks: Object.values(progress?.checks ?? {}),
    guardrails: Object.values(progress?.guardrails ?? {}),
  };
  // Its first heartbeat may come before its first sample.
  return samples.checks.length + samples.guardrails.length === 0 ? undefined : samples;
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * One check's or guardrail's samples so far, without the time:
 * `guardrail errors: 12 samples, 11 held; last deviated 0.4: error rate 0.4 > 0.1`.
 */
export function progressText(kind: 'check' | 'guardrail', sampleSummary: SampleSummary): string {
  const summary = printable(sampleSummary);
  const uncounted = [
    ...(summary.unknown ? [`${summary.unknown} unknown`] : []),
    ...(summary.couldNotAsk ? [`${summary.couldNotAsk} could not ask`] : []),
  ];
  const counts = `${plural(summary.samples, 'sample')}, ${summary.held} held${uncounted.length > 0 ? ` (${uncounted.join(', ')})` : ''}`;
  const { last } = summary;
  if (!last) return `${kind} ${summary.name}: ${counts}`;
  const state = last.couldNotAsk
    ? 'could not ask'
    : last.unknown
      ? 'unknown'
      : last.holds
        ? 'held'
        : 'deviated';
  const value = last.value === undefined ? '' : ` ${last.value}`;
  return `${kind} ${summary.name}: ${counts}; last ${state}${value}: ${last.detail.replace(/\s+/g, ' ').trim()}`;
}

function lineOf(kind: 'check' | 'guardrail', summary: SampleSummary, width: number): string {
  const time = (summary.last?.at ?? new Date().toISOString()).slice(11, 19);
  const text = progressText(kind, summary);
  // Time and phase take 24 columns; a line longer than the terminal would wrap and break the redraw.
  const room = Math.max(20, width - 24);
  const cut = text.length > room ? `${text.slice(0, room - 1)}…` : text;
  const deviated = summary.last !== undefined && !summary.last.holds;
  return `${style.dim(time)} ${style.cyan('observe'.padEnd(14))} ${deviated ? style.red(cut) : cut}`;
}

/** Every check's and guardrail's line, checks first. */
export function progressLines(samples: SamplesSoFar, width = 200): string[] {
  return [
    ...samples.checks.map((summary) => lineOf('check', summary, width)),
    ...samples.guardrails.map((summary) => lineOf('guardrail', summary, width)),
  ];
}

/** Where `gameday run` prints: lines that stay (the timeline), and the samples so far of a running window. */
export interface LiveOutput {
  line(text: string): void;
  /** The window's samples so far; undefined when no window is being sampled (its lines are then put away). */
  samples(samples: SamplesSoFar | undefined): void;
}

export interface Terminal {
  write(text: string): void;
  /** In-place updates need a terminal that moves its cursor (a TTY, TERM not dumb). */
  readonly live: boolean;
  readonly columns?: number;
}

export function terminalOf(stream: NodeJS.WriteStream): Terminal {
  return {
    write: (text) => stream.write(text),
    live: stream.isTTY === true && process.env.TERM !== 'dumb',
    get columns() {
      return stream.columns;
    },
  };
}

/**
 * On a live terminal, one line per check and guardrail below the timeline, redrawn in place as samples come
 * (a timeline line is printed above them); elsewhere (piped, a CI log) each line is appended whenever it has
 * `every` more samples, so a log grows by a line per check every `every` samples and no faster.
 */
export function liveOutput(terminal: Terminal, every = progressEverySamples): LiveOutput {
  if (!terminal.live) {
    const shown = new Map<string, number>();
    const append = (kind: 'check' | 'guardrail', summary: SampleSummary) => {
      const key = `${kind} ${summary.name}`;
      const before = shown.get(key) ?? 0;
      if (Math.floor(summary.samples / every) > Math.floor(before / every)) {
        terminal.write(`${lineOf(kind, summary, Number.POSITIVE_INFINITY)}\n`);
        shown.set(key, summary.samples);
      }
    };
    return {
      line: (text) => terminal.write(`${text}\n`),
      samples: (samples) => {
        for (const summary of samples?.checks ?? []) append('check', summary);
        for (const summary of samples?.guardrails ?? []) append('guardrail', summary);
      },
    };
  }
  let drawn: string[] = [];
  // Back to the first line of the block and clear from there to the end of the screen.
  const erase = () => (drawn.length > 0 ? `\u001b[${drawn.length}F\u001b[J` : '');
  const draw = (lines: string[]) => lines.map((line) => `${line}\n`).join('');
  return {
    line: (text) => {
      terminal.write(`${erase()}${text}\n${draw(drawn)}`);
    },
    samples: (samples) => {
      const lines = samples ? progressLines(samples, (terminal.columns ?? 80) - 1) : [];
      if (lines.length === drawn.length && lines.every((line, i) => line === drawn[i])) return;
      terminal.write(`${erase()}${draw(lines)}`);
      drawn = lines;
    },
  };
}
