import type { Command } from 'commander';
import {
  scheduleApplyCommand,
  scheduleBackfillCommand,
  scheduleDeleteCommand,
  scheduleDescribeCommand,
  scheduleListCommand,
  schedulePauseCommand,
  scheduleTriggerCommand,
  scheduleUnpauseCommand,
  scheduleValidateCommand,
  scheduleSchemaCommand,
} from './commands/schedule';
import { examplesAndExitCodes, required, temporalCommandCodes } from './helpTexts';

type Action = <A extends unknown[]>(
  body: (...args: A) => Promise<number> | number,
) => (...args: A) => Promise<void>;

/** `gameday schedule …`: schedules as code (kind: Schedule files) through Temporal's schedule client. */
export function addScheduleCommands(root: Command, action: Action): void {
  const flags = (command: Command) => command.optsWithGlobals<Record<string, never>>();
  const schedule = root
    .command('schedule')
    .description('game days that run by themselves: kind: Schedule files applied as Temporal Schedules');

  schedule
    .command('apply')
    .description('create or update the schedules of a file or directory (idempotent)')
    .argument('<file-or-dir>', 'a schedule file, or a directory of them (*.yaml)')
    .option('--dry-run', 'print what would change, as a diff; change nothing')
    .option('--prune', "also delete gameday's schedules that no file names")
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday schedule apply examples/schedules/',
          'gameday schedule apply schedules/ --dry-run',
          'gameday schedule apply schedules/ --prune',
        ],
        temporalCommandCodes(
          'applied (or, with --dry-run, the diff printed)',
          'an invalid schedule file or plan',
        ),
      ),
    )
    .action(
      action((target: string, _opts: unknown, command: Command) =>
        scheduleApplyCommand(target, flags(command)),
      ),
    );

  schedule
    .command('validate')
    .description('check schedule files and their plans; errors as file:line:col: field: message')
    .argument('<file-or-dir>')
    .addHelpText(
      'after',
      examplesAndExitCodes(['gameday schedule validate examples/schedules/'], {
        passed: 'every schedule and its plan are valid',
        usage: 'an invalid schedule file or plan (each error printed as file:line:col)',
      }),
    )
    .action(action((target: string) => scheduleValidateCommand(target)));

  schedule
    .command('schema')
    .description('print the JSON Schema of schedule files')
    .addHelpText(
      'after',
      examplesAndExitCodes(['gameday schedule schema > schedule.schema.json'], { passed: 'printed' }),
    )
    .action(action(() => scheduleSchemaCommand()));

  schedule
    .command('list')
    .description("gameday's schedules: plan, paused or next run")
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule list', 'gameday schedule list --json'],
        temporalCommandCodes('listed', 'the namespace does not exist'),
      ),
    )
    .action(action((_opts: unknown, command: Command) => scheduleListCommand(flags(command))));

  schedule
    .command('describe')
    .description('a schedule: when it runs (in words), its next 5 runs, its recent runs and their outcomes')
    .argument('<id>')
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule describe nightly-checkout'],
        temporalCommandCodes('described', 'no such schedule'),
      ),
    )
    .action(
      action((id: string, _opts: unknown, command: Command) => scheduleDescribeCommand(id, flags(command))),
    );

  schedule
    .command('pause')
    .description('stop starting runs (running game days go on)')
    .argument('<id>')
    .requiredOption('--reason <text>', required('why, shown with the schedule'))
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule pause nightly-checkout --reason "release freeze until Monday"'],
        temporalCommandCodes('paused', 'no such schedule, or --reason missing or empty'),
      ),
    )
    .action(
      action((id: string, opts: { reason: string }, command: Command) =>
        schedulePauseCommand(id, opts.reason, flags(command)),
      ),
    );

  schedule
    .command('unpause')
    .description('start runs again')
    .argument('<id>')
    .option('--reason <text>', 'why, shown with the schedule')
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        [
          'gameday schedule unpause nightly-checkout',
          'gameday schedule unpause nightly-checkout --reason "freeze over"',
        ],
        temporalCommandCodes('unpaused', 'no such schedule'),
      ),
    )
    .action(
      action((id: string, _opts: unknown, command: Command) => scheduleUnpauseCommand(id, flags(command))),
    );

  schedule
    .command('trigger')
    .description("start a run now (the schedule's overlap policy applies)")
    .argument('<id>')
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule trigger nightly-checkout'],
        temporalCommandCodes('a run was started (or the overlap policy skipped it)', 'no such schedule'),
      ),
    )
    .action(
      action((id: string, _opts: unknown, command: Command) => scheduleTriggerCommand(id, flags(command))),
    );

  schedule
    .command('backfill')
    .description('start the runs the schedule would have started in a past range (at most 31 days)')
    .argument('<id>')
    .requiredOption('--from <time>', required('ISO time, e.g. 2026-12-01T00:00:00Z'))
    .requiredOption('--to <time>', required('ISO time, not in the future'))
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule backfill nightly-checkout --from 2026-12-01T00:00:00Z --to 2026-12-02T00:00:00Z'],
        temporalCommandCodes('the runs were started', 'no such schedule, or a bad --from/--to range'),
      ),
    )
    .action(
      action((id: string, opts: { from: string; to: string }, command: Command) =>
        scheduleBackfillCommand(id, { ...flags(command), from: opts.from, to: opts.to }),
      ),
    );

  schedule
    .command('delete')
    .description('delete a schedule (the game days it started are left to finish)')
    .argument('<id>')
    .option('--json', 'as JSON')
    .addHelpText(
      'after',
      examplesAndExitCodes(
        ['gameday schedule delete nightly-checkout'],
        temporalCommandCodes('deleted', 'no such schedule'),
      ),
    )
    .action(
      action((id: string, _opts: unknown, command: Command) => scheduleDeleteCommand(id, flags(command))),
    );
}
