#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { CliError, exitCodeHelp, exitCodes } from './exitCodes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliErrorOf } from './cliErrors';
import { projectRoot } from './paths';
import { outcomes } from '../workflows/definitions';
import { printable } from './printable';
import { parseDuration } from '../plan/duration';
import {
  abortCommand,
  listCommand,
  reportCommand,
  schemaCommand,
  statusCommand,
  validateCommand,
} from './commands/inspect';
import { diagnoseIoCommand, type DiagnoseIoFlags } from './commands/diagnose';
import { historyCommand, sinceOption } from './commands/history';
import { janitorCommand, type JanitorFlags } from './commands/janitor';
import { runCommand } from './commands/run';
import { addScheduleCommands } from './scheduleCommands';
import { examplesAndExitCodes, outcomeCodes, required, temporalCommandCodes } from './helpTexts';
import { demoCommand, devCommand, setupCommand, workerCommand } from './commands/servers';

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('must be a whole number');
  return parsed;
}

/** The version in package.json (the CLI runs from the repository or an installed package, both beside it). */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

function workerWait(value: string): number {
  const millis = parseDuration(value, ['s', 'm', 'h'], false);
  if (millis === undefined || millis <= 0)
    throw new InvalidArgumentError('must be a duration such as 30s or 5m');
  return millis;
}

function program(): Command & { exitCodeOf(): number } {
  const root = new Command('gameday')
    .description(
      'Chaos game days as durable Temporal workflows: every fault is rolled back, even if the orchestrator dies.',
    )
    .addOption(new Option('--address <host:port>', 'Temporal frontend').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <name>', 'Temporal namespace').env('TEMPORAL_NAMESPACE'))
    .addOption(
      new Option('--task-queue <name>', 'task queue of the gameday workers').env('GAMEDAY_TASK_QUEUE'),
    )
    .addOption(new Option('--ui-url <url>', 'base URL of the Temporal UI, for links').env('GAMEDAY_UI_URL'))
    .version(packageVersion(), '--version', 'print the version of gameday')
    .addHelpText('after', `\n${exitCodeHelp}`)
    .showHelpAfterError()
    .exitOverride();

  const flags = (command: Command) => command.optsWithGlobals<Record<string, never>>();
  let exitCode: number = exitCodes.passed;
  const action =
    <A extends unknown[]>(body: (...args: A) => Promise<number> | number) =>
    async (...args: A) => {
      exitCode = await body(...args);
    };

  root
    .command('run')
    .description("start a game day from a plan and follow it live (phases, faults, each check's samples)")
    .argument('<plan>', 'plan file (YAML)')
    .option('--detach', 'start it and print its id and UI link, without following')
    .option('--dry-run', 'print every action and rollback in plain words; start nothing')
    .option('--json', 'print the report (or, detached, the id) as JSON')
    .option(
      '--report-file <file>',
      'write the report to this file; standard output keeps the live lines and the outcome',
    )
    .addOption(
      new Option(
        '--format <format>',
        'format of the report (in --report-file, or on standard output: json and html print nothing else)',
      ).choices(['md', 'json', 'html']),
    )
    .option('--seed <n>', 'seed of random target choices (recorded either way)', integer)
    .option('--wait', 'wait for a gameday worker on the task queue as long as it takes')
    .option(
      '--worker-wait <duration>',
      'how long to wait for a gameday worker before giving up with exit 6 (default 30s)',
      workerWait,
    )
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday run examples/demo.yaml',
          'gameday run plans/checkout.yaml --dry-run',
          'gameday run plans/checkout.yaml --report-file report.md | tee run.log',
        ],
        outcomeCodes,
      ),
    )
    .action(action((file: string, _opts: unknown, command: Command) => runCommand(file, flags(command))));

  root
    .command('validate')
    .description('check plan files; every error is printed as file:line:col: field: message')
    .argument('<plans...>')
    .option(
      '--config <file>',
      "also check each plan against this worker configuration, as the worker does at resolve (its SSH inventory, Prometheus endpoints, webhooks, Kubernetes contexts and allow-lists; it asks the clusters' API servers)",
    )
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday validate examples/*.yaml', 'gameday validate plans/etcd.yaml --config worker.yaml'],
        {
          passed: 'every plan is valid (and the worker would run it)',
          usage: 'a plan is invalid (each error printed as file:line:col), or the worker would refuse it',
          error: 'a plan could not be checked against the worker (e.g. its cluster did not answer)',
        },
      ),
    )
    .action(
      action((files: string[], _opts: unknown, command: Command) => validateCommand(files, flags(command))),
    );

  root
    .command('schema')
    .description('print the JSON Schema of plan files')
    .addHelpText('after', examplesAndExitCodes(['gameday schema > plan.schema.json'], { passed: 'printed' }))
    .action(action(() => schemaCommand()));

  root
    .command('status')
    .description('phase, faults and last check values of a game day')
    .argument('<workflow-id>')
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday status gameday-demo-20261202T101500Z',
          'gameday status gameday-demo-20261202T101500Z --json',
        ],
        {
          ...outcomeCodes,
          passed: 'passed, or still running',
          usage: 'no such game day in this namespace',
          error: 'error (e.g. Temporal unreachable)',
        },
      ),
    )
    .action(action((id: string, _opts: unknown, command: Command) => statusCommand(id, flags(command))));

  root
    .command('abort')
    .description('stop a game day early: it rolls back every fault and ends as aborted')
    .argument('<workflow-id>')
    .requiredOption('--reason <text>', required('why, for the report and the timeline'))
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday abort gameday-demo-20261202T101500Z --reason "checkout errors paged on-call"'],
        {
          passed: 'abort accepted: every fault is being rolled back',
          failed: 'abort refused (e.g. the game day has already finished)',
          usage: 'no such game day, or --reason missing',
          error: 'error (e.g. Temporal unreachable)',
        },
      ),
    )
    .action(
      action((id: string, opts: { reason: string }, command: Command) =>
        abortCommand(id, opts.reason, flags(command)),
      ),
    );

  root
    .command('list')
    .description('recent game days with their outcome')
    .option('--limit <n>', 'how many', integer, 20)
    .option('--schedule <id>', 'only the game days this schedule started')
    .option('--plan <name>', "only this plan's game days")
    .addOption(new Option('--outcome <outcome>', 'only game days with this outcome').choices(outcomes))
    .option('--since <duration>', 'only game days started this recently (e.g. 12h, 7d)', sinceOption)
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday list',
          'gameday list --plan checkout --outcome failed --since 7d',
          'gameday list --schedule nightly-checkout --json',
        ],
        temporalCommandCodes('listed', 'a bad option value'),
      ),
    )
    .action(action((_opts: unknown, command: Command) => listCommand(flags(command))));

  addScheduleCommands(root, action);

  root
    .command('report')
    .description("a game day's report")
    .argument('<workflow-id>')
    .addOption(
      new Option('--format <format>', 'output format (html: one self-contained page)')
        .choices(['md', 'json', 'html'])
        .default('md'),
    )
    .option('--out <file>', 'write it to this file instead of standard output')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday report gameday-demo-20261202T101500Z',
          'gameday report gameday-demo-20261202T101500Z --format html --out report.html',
        ],
        {
          ...outcomeCodes,
          usage: 'no such game day in this namespace',
          error: 'error (e.g. Temporal unreachable), or the game day is still running',
        },
      ),
    )
    .action(action((id: string, _opts: unknown, command: Command) => reportCommand(id, flags(command))));

  root
    .command('history')
    .description('the trend over runs of a plan: outcome, time to recover, rollback time, guardrail margin')
    .argument('<plan>', "the plan's name (metadata.name)")
    .option('--since <duration>', 'how far back, e.g. 30d, 2w, 12h (default 30d)', sinceOption)
    .option('--json', 'as JSON')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'html']).default('text'))
    .option('--out <file>', 'write it to this file instead of standard output')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday history checkout', 'gameday history checkout --since 2w --format html --out trend.html'],
        temporalCommandCodes('printed', 'not a plan name, or a bad --since'),
      ),
    )
    .action(action((plan: string, _opts: unknown, command: Command) => historyCommand(plan, flags(command))));

  root
    .command('janitor')
    .description(
      "list what finished game days left on the worker's hosts (dry run); --apply removes it through each " +
        "fault kind's rollback (runs as a workflow on the worker)",
    )
    .option(
      '--targets <host-or-group...>',
      "only these hosts (or target groups of the runs' plans); default: every host of the worker",
    )
    .option('--tag <tag...>', "only what the runs with these tags left (a run's tag is in its memo)")
    .option('--apply', 'remove every finding, verify, and look again')
    .option('--notify <webhook...>', "tell these webhooks of the worker's configuration what it found")
    .option('--json', 'print the janitor report as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday janitor',
          'gameday janitor --targets web-1 web-2 --apply',
          'gameday janitor --tag 3f9a1c2e --json',
        ],
        {
          passed: 'the hosts are clean (after --apply: nothing remains)',
          failed: 'leftovers found (after --apply: some remain, or a removal failed)',
          usage: 'a bad option value',
          error: 'error (e.g. Temporal unreachable, no worker)',
        },
      ),
    )
    .action(
      action((_opts: unknown, command: Command) => janitorCommand(command.optsWithGlobals<JanitorFlags>())),
    );

  root
    .command('diagnose')
    .description('diagnose a host directly (over SSH from the worker configuration, or local)')
    .command('io')
    .description(
      'who reads and writes, which device is busy, which files grow: per-process IO, iostat -x, IO pressure, open files, df',
    )
    .requiredOption('--host <name>', required('a host of the SSH inventory, or "local" for this machine'))
    .option('--container <name>', 'look at the processes of this Docker container')
    .option('--pid <pid>', 'look at this process')
    .option('--interval <duration>', 'measurement window, e.g. 2s (200ms–60s)', '2s')
    .option('--json', 'print the evidence as JSON')
    .addOption(new Option('--config <file>', 'worker configuration (YAML)').env('GAMEDAY_WORKER_CONFIG'))
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday diagnose io --host local',
          'gameday diagnose io --host db-1 --container postgres --interval 5s --json',
        ],
        {
          passed: 'the evidence was printed',
          usage:
            'an unknown host, a bad --pid, --container or --interval, or an invalid worker configuration',
          error: 'error (e.g. the host cannot be reached)',
        },
      ),
    )
    .action(
      action((_opts: unknown, command: Command) =>
        diagnoseIoCommand(command.optsWithGlobals<DiagnoseIoFlags>()),
      ),
    );

  root
    .command('worker')
    .description('run a worker (until SIGINT/SIGTERM; running rollbacks are allowed to finish)')
    .addOption(new Option('--config <file>', 'worker configuration (YAML)').env('GAMEDAY_WORKER_CONFIG'))
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday worker --config worker.yaml',
          'gameday worker --config worker.yaml --address temporal:7233 --task-queue gameday-eu',
        ],
        {
          passed: 'stopped by SIGINT/SIGTERM, running rollbacks finished',
          usage: 'an invalid worker configuration',
          error: 'error (e.g. Temporal unreachable)',
        },
      ),
    )
    .action(action((_opts: unknown, command: Command) => workerCommand(flags(command))));

  root
    .command('setup')
    .description("register gameday's search attributes on a self-hosted cluster (operator API)")
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday setup --address temporal:7233 --namespace default'],
        temporalCommandCodes('the search attributes are registered', 'the namespace does not exist'),
      ),
    )
    .action(action((_opts: unknown, command: Command) => setupCommand(flags(command))));

  root
    .command('dev')
    .description(
      'start a local Temporal dev server (with UI; history and ports kept in .gameday/dev) and a worker',
    )
    .addOption(new Option('--config <file>', 'worker configuration (YAML)').env('GAMEDAY_WORKER_CONFIG'))
    .option('--demo', 'also start the demo service examples/demo.yaml pauses (port 18181), until Ctrl-C')
    .addHelpText(
      'after',
      examplesAndExitCodes(['gameday dev --demo', 'gameday dev --config worker.yaml'], {
        passed: 'stopped by Ctrl-C',
        usage: 'an invalid worker configuration',
        error: 'error (e.g. the dev server did not start)',
      }),
    )
    .action(action((_opts: unknown, command: Command) => devCommand(flags(command))));

  root
    .command('demo')
    .description('run the example game day end to end on this machine (dev server, worker, demo service)')
    .option('--json', 'print the report as JSON')
    .option('--keep', 'keep the dev server and UI running afterwards, until Ctrl-C')
    .addHelpText(
      'after',
      examplesAndExitCodes(['gameday demo', 'gameday demo --keep'], {
        ...outcomeCodes,
        error: 'error (e.g. port 18181 in use, the dev server did not start)',
      }),
    )
    .action(action((opts: { json?: boolean; keep?: boolean }) => demoCommand(opts)));

  return Object.assign(root, { exitCodeOf: () => exitCode });
}

export async function main(argv: readonly string[]): Promise<number> {
  const cli = program();
  try {
    await cli.parseAsync([...argv], { from: 'user' });
    return cli.exitCodeOf();
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; everything else commander rejects is a usage error.
      return error.exitCode === 0 ? exitCodes.passed : exitCodes.usage;
    }
    // Messages carry data (a server's words, a plan's values): escaped like everything else printed.
    const known = error instanceof CliError ? error : cliErrorOf(error);
    if (known) {
      console.error(printable(known.message));
      return known.exitCode;
    }
    // Not one a person caused: one line all the same; the stack when asked for (GAMEDAY_DEBUG=1).
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    console.error(printable(`gameday: ${message}`));
    if (process.env.GAMEDAY_DEBUG && error instanceof Error && error.stack)
      console.error(printable(error.stack));
    else console.error(printable('(set GAMEDAY_DEBUG=1 to see where it happened)'));
    return exitCodes.error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(printable(`gameday: ${error instanceof Error ? error.message : String(error)}`));
      process.exitCode = exitCodes.error;
    },
  );
}
