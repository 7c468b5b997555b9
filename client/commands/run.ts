import { formatPlanError, loadPlanFile } from '../../plan/load';
import type { Plan } from '../../plan/schema';
import { CliError, exitCodeFor, exitCodes } from '../exitCodes';
import { follow } from '../follow';
import { connect, describePlan, startGameDay, type Temporal } from '../gameDays';
import { taskQueueOf, uiUrlOf, type GlobalFlags } from '../options';
import { liveOutput, terminalOf, type SamplesSoFar } from '../progress';
import { outcomeLine, renderReport, uiLink } from '../render';
import { printable } from '../printable';
import { reportWithAttempts } from '../retries';
import { style } from '../style';
import { formatReport, writeReportFile, type ReportFormat } from './inspect';
import { awaitWorker, defaultWorkerWaitMs, pollersOn, startWorkerHint } from '../workerPresence';

export interface RunFlags extends GlobalFlags {
  readonly detach?: boolean;
  /** Wait for a worker as long as it takes (otherwise `workerWait`, 30 s by default). */
  readonly wait?: boolean;
  readonly workerWait?: number;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly seed?: number;
  /** Write the report to this file (in `format`); standard output keeps the live lines and the outcome. */
  readonly reportFile?: string;
  readonly format?: ReportFormat;
}

/** Loads and validates a plan, printing every error with file:line:col; throws a usage error when invalid. */
export async function loadPlanOrExit(file: string): Promise<{ plan: Plan; digest: string }> {
  const loaded = await loadPlanFile(file);
  if (!loaded.ok) {
    throw new CliError(loaded.errors.map(formatPlanError).join('\n'), exitCodes.usage);
  }
  return loaded;
}

/** Starts a game day and, unless detached, follows it to its end. Returns the exit code. */
export async function executeGameDay(
  temporal: Temporal,
  plan: Plan,
  digest: string,
  flags: RunFlags & { uiUrl?: string },
): Promise<number> {
  // Where the report goes: a file (--report-file), standard output, or both (--json and --report-file).
  const fileFormat = flags.reportFile === undefined ? undefined : (flags.format ?? 'md');
  const stdoutFormat: ReportFormat | undefined = flags.json
    ? 'json'
    : fileFormat === undefined
      ? (flags.format ?? 'md')
      : undefined;
  if (flags.detach && fileFormat !== undefined) {
    throw new CliError(
      '--report-file needs the game day followed to its end: drop --detach, or write it later with `gameday report <id> --out <file>`',
      exitCodes.usage,
    );
  }
  // A JSON or HTML report on standard output keeps it clean: no live lines there.
  const live =
    stdoutFormat === 'json' || stdoutFormat === 'html' ? undefined : liveOutput(terminalOf(process.stdout));
  const print = live ? (line: string) => live.line(line) : () => undefined;
  const taskQueue = taskQueueOf(flags);
  const waitMs = flags.wait ? Number.POSITIVE_INFINITY : (flags.workerWait ?? defaultWorkerWaitMs);
  const say = (line: string) => console.error(style.yellow(line));
  if (flags.detach) {
    // Started all the same: it runs when a worker comes. Said, so nobody waits for it unknowingly.
    if ((await pollersOn(temporal, taskQueue)) === 0) {
      say(
        `no gameday worker polls task queue ${taskQueue} yet: it starts when one does (${startWorkerHint(taskQueue)})`,
      );
    }
  } else {
    await awaitWorker(temporal, taskQueue, { waitMs, say, what: 'so nothing was started' });
  }
  const handle = await startGameDay(temporal, plan, digest, {
    taskQueue,
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
  });
  const link = uiLink(flags.uiUrl ?? uiUrlOf(flags, temporal.address), temporal.namespace, handle.workflowId);
  if (flags.detach) {
    if (flags.json) console.log(JSON.stringify({ workflowId: handle.workflowId, ui: link }));
    else console.log(`started ${handle.workflowId}${link ? `\n${link}` : ''}`);
    return exitCodes.passed;
  }
  print(`${style.bold('game day')} ${handle.workflowId}${link ? `  ${style.dim(link)}` : ''}`);
  const followed = await follow(handle, {
    print,
    ...(live ? { samples: (samples: SamplesSoFar | undefined) => live.samples(samples) } : {}),
    worker: { taskQueue, pollers: () => pollersOn(temporal, taskQueue), waitMs },
    onStuck: () => {
      console.error(
        style.red(
          'A rollback keeps failing and needs a person (see the timeline). The workflow retries it until it succeeds;',
        ) + `\nfollow it with: gameday status ${handle.workflowId}`,
      );
      return true;
    },
  });
  const { stuck } = followed;
  // The final report says which steps ran more than once (a lost worker), as `gameday report` does.
  const { report } = await reportWithAttempts(handle, followed.report, (line) =>
    console.error(printable(line)),
  );
  if (fileFormat !== undefined && flags.reportFile !== undefined) {
    await writeReportFile(flags.reportFile, await formatReport(temporal, report, fileFormat, link));
  }
  if (stdoutFormat === 'md') {
    print('');
    print(renderReport(report, link));
  } else if (stdoutFormat !== undefined) {
    console.log(await formatReport(temporal, report, stdoutFormat, link));
  }
  if (stdoutFormat === undefined || stdoutFormat === 'md') {
    print('');
    if (flags.reportFile !== undefined) print(style.dim(`report written to ${flags.reportFile}`));
    print(outcomeLine(report));
  }
  return stuck ? exitCodes['rollback-stuck'] : exitCodeFor(report.outcome);
}

export async function runCommand(file: string, flags: RunFlags): Promise<number> {
  const { plan, digest } = await loadPlanOrExit(file);
  if (flags.dryRun) {
    const description = describePlan(plan, flags.seed);
    console.log(flags.json ? JSON.stringify({ plan, digest, description }, null, 2) : description);
    return exitCodes.passed;
  }
  const temporal = await connect(flags);
  try {
    return await executeGameDay(temporal, plan, digest, flags);
  } finally {
    await temporal.close();
  }
}
