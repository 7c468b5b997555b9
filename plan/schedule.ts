import { z } from 'zod';
import { durationText, parseDuration } from './duration';
import { planApiVersion } from './schema';
import { freeText, hostName, identifier } from './safeValues';

// A `kind: Schedule` file: when a plan runs unattended. It names its plan by path; `gameday schedule apply`
// reads and validates that plan and embeds it (with its digest) in the Temporal Schedule, so a scheduled run
// never reads a file and runs exactly what was applied.

export const months = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
] as const;
export const daysOfWeek = [
  'SUNDAY',
  'MONDAY',
  'TUESDAY',
  'WEDNESDAY',
  'THURSDAY',
  'FRIDAY',
  'SATURDAY',
] as const;

/** Overlap policies gameday accepts: a new run never cuts a running one short (its rollback above all). */
export const allowedOverlaps = ['SKIP', 'BUFFER_ONE'] as const;
const cuttingOverlaps = ['TERMINATE_OTHER', 'CANCEL_OTHER'] as const;
const otherOverlaps = ['BUFFER_ALL', 'ALLOW_ALL'] as const;

const maxSpecs = 20;
const maxRangesPerField = 31;

/** One value, a range or a list of them, as Temporal's calendar specs take them (`{ start: 1, end: 5 }`). */
function calendarField<Value extends z.ZodType<number | string>>(value: Value) {
  const range = z.strictObject({
    start: value,
    end: value.optional(),
    step: z.number().int().min(1).max(1000).optional(),
  });
  const one = z.union([value, range]);
  return z.union([z.literal('*'), one, z.array(one).min(1).max(maxRangesPerField)]).optional();
}

const number = (min: number, max: number) => z.number().int().min(min).max(max);

/** A Temporal calendar spec, field for field (unset fields: second 0, minute 0, hour 0, the rest every). */
const calendarFields = {
  second: calendarField(number(0, 59)),
  minute: calendarField(number(0, 59)),
  hour: calendarField(number(0, 23)),
  dayOfMonth: calendarField(number(1, 31)),
  month: calendarField(z.enum(months)),
  year: calendarField(number(2000, 2200)),
  dayOfWeek: calendarField(z.enum(daysOfWeek)),
  comment: freeText(200).optional(),
};

export const calendarSchema = z
  .strictObject(calendarFields)
  .describe('a Temporal calendar spec: unset second/minute/hour are 0, the other fields are "every"');

const isoDate = z
  .string()
  .max(10)
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD')
  .refine((text) => !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && dateParts(text) !== undefined, {
    message: 'is not a date in the calendar',
  });

/** Year, month (1-12) and day of a YYYY-MM-DD date, or undefined when there is no such day. */
export function dateParts(text: string): { year: number; month: number; day: number } | undefined {
  const [year, month, day] = text.split('-').map(Number);
  if (year === undefined || month === undefined || day === undefined) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? { year, month, day } : undefined;
}

/**
 * Days on which no game day starts: a freeze window (`freeze: { from, to }`, whole days, both included) or
 * calendar fields (a holiday every year). One object rather than a union, so that a mistake in either is
 * reported at its own field.
 */
const skipSchema = z
  .strictObject({
    freeze: z
      .strictObject({ from: isoDate, to: isoDate })
      .optional()
      .describe('no runs from `from` to `to` (whole days in the schedule timezone, both included)'),
    ...calendarFields,
  })
  .superRefine((skip, ctx) => {
    const { freeze, comment: _comment, ...calendar } = skip;
    const timeFields = Object.keys(calendar).filter(
      (key) => calendar[key as keyof typeof calendar] !== undefined,
    );
    if (freeze === undefined) {
      if (timeFields.length === 0)
        ctx.addIssue({
          code: 'custom',
          message: 'give a freeze window or calendar fields (month, dayOfMonth, …)',
        });
      return;
    }
    if (timeFields.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: [timeFields[0] ?? 'freeze'],
        message: 'a freeze window takes whole days: give it alone, or write a second skip entry',
      });
    }
    if (freeze.from > freeze.to) {
      ctx.addIssue({
        code: 'custom',
        path: ['freeze', 'to'],
        message: 'a freeze window must end on or after the day it starts',
      });
    }
  })
  .describe(
    'a freeze window, or calendar fields matching the days skipped (e.g. a holiday every year); unset second, ' +
      'minute and hour mean the whole day here',
  );

const cronExpression = z
  .string()
  .max(100, 'must be at most 100 characters')
  .regex(
    /^(@(yearly|annually|monthly|weekly|daily|hourly)|[0-9A-Za-z*/,?#-]+( [0-9A-Za-z*/,?#-]+){4,6})$/,
    'must be a cron expression: five fields ("0 3 * * *", minute hour day-of-month month day-of-week) or @daily etc.',
  );

/** An IANA time zone the runtime knows ("Europe/Berlin", "UTC"). */
const timezone = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9_/+-]+$/, 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"')
  .refine(
    (zone) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    },
    { message: 'is not a time zone this machine knows (an IANA name such as "Europe/Berlin")' },
  );

const overlap = z
  .string()
  .max(20)
  .default('SKIP')
  .superRefine((value, ctx) => {
    if ((allowedOverlaps as readonly string[]).includes(value)) return;
    if ((cuttingOverlaps as readonly string[]).includes(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `${value} would cut the rollback of a game day still running: use SKIP (the default) or BUFFER_ONE`,
      });
    } else if ((otherOverlaps as readonly string[]).includes(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `${value} would pile game days of one plan on top of each other: use SKIP (the default) or BUFFER_ONE`,
      });
    } else {
      ctx.addIssue({ code: 'custom', message: 'must be SKIP (the default) or BUFFER_ONE' });
    }
  })
  .transform((value) => value as (typeof allowedOverlaps)[number])
  .meta({ enum: [...allowedOverlaps] })
  .describe(
    'what happens when a run is due while the previous one still runs: SKIP it, or BUFFER_ONE (start it after). ' +
      'TERMINATE_OTHER and CANCEL_OTHER are refused: they would cut a rollback',
  );

/** A scheduled janitor sweep: what `gameday janitor` is given on the command line. */
const janitorSchema = z
  .strictObject({
    apply: z
      .boolean()
      .default(false)
      .describe(
        "remove what it finds through each fault kind's rollback (false: list, count and notify only)",
      ),
    targets: z
      .array(hostName)
      .min(1)
      .max(200)
      .optional()
      .describe("only these hosts (or target groups of the runs' plans); default: every host of the worker"),
    notify: z
      .array(identifier)
      .min(1)
      .max(10)
      .optional()
      .describe("webhooks of the worker's configuration told when the sweep finds leftovers"),
  })
  .describe("a janitor sweep of the worker's hosts instead of a game day");

export const scheduleSchema = z
  .strictObject({
    apiVersion: z.literal(planApiVersion),
    kind: z.literal('Schedule'),
    metadata: z.strictObject({
      name: identifier.describe('the schedule id in Temporal'),
      owner: freeText(100).min(1),
    }),
    plan: freeText(4096)
      .min(1)
      .optional()
      .describe('the plan file, relative to this file; read, validated and embedded at apply time'),
    janitor: janitorSchema.optional(),
    cron: z.array(cronExpression).min(1).max(maxSpecs).optional().describe('cron expressions'),
    calendars: z.array(calendarSchema).min(1).max(maxSpecs).optional(),
    timezone: timezone.default('UTC'),
    jitter: durationText({ max: '6h' })
      .optional()
      .describe('each run starts up to this much later, at random, so nightly runs do not all start at once'),
    skip: z.array(skipSchema).max(100).default([]),
    overlap,
    catchupWindow: durationText({ min: '10s', max: '24h' })
      .default('1h')
      .describe(
        'a run missed while Temporal was down is still started if it is at most this late (never a year)',
      ),
    pauseOnFailure: z
      .boolean()
      .default(false)
      .describe(
        'pause the schedule (with a note naming the run) when a run does not pass: failed, aborted, not started',
      ),
    note: freeText(1000, { multiLine: true }).optional().describe('shown with the schedule'),
  })
  .refine((schedule) => schedule.cron !== undefined || schedule.calendars !== undefined, {
    message: 'give when it runs: cron, calendars or both',
  })
  .superRefine((schedule, ctx) => {
    if ((schedule.plan === undefined) === (schedule.janitor === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give what it runs: a game day (plan: FILE) or a janitor sweep (janitor: {…}), one of them',
      });
    }
    if (schedule.janitor !== undefined && schedule.pauseOnFailure) {
      ctx.addIssue({
        code: 'custom',
        path: ['pauseOnFailure'],
        message:
          'a janitor sweep does not pause its schedule: name webhooks in janitor.notify to hear of findings',
      });
    }
  });

export type ScheduleFile = z.output<typeof scheduleSchema>;
export type Calendar = z.output<typeof calendarSchema>;
export type JanitorSweep = z.output<typeof janitorSchema>;
export type Skip = ScheduleFile['skip'][number];

/** Milliseconds of a schedule's duration field, as the schema has checked it. */
export function scheduleDuration(text: string): number {
  return parseDuration(text) ?? Number.NaN;
}

/** The JSON Schema of a schedule file, as written. */
export function scheduleJsonSchema(): unknown {
  return z.toJSONSchema(scheduleSchema, { io: 'input', unrepresentable: 'any' });
}
