import { posix } from 'node:path';
import { z } from 'zod';
import { withoutControlCharacters } from './controlCharacters';
import { maxPatternLength, patternProblem } from './regex';

// Every value that may end up in a host command is checked against a strict pattern here, once, so that
// the same plan is safe on the local executor (argv) and on executors that go through a remote shell.
// Every string and list is bounded (test/plan.test.ts walks the JSON Schema to keep it so), and no string
// holds control characters, which a terminal would act on when a dry run or report shows the plan.

/**
 * Free text (an owner, a description, PromQL): at most `maxLength` characters and no control characters;
 * `multiLine` text may hold newlines and tabs.
 */
export function freeText(maxLength: number, { multiLine = false } = {}) {
  return z
    .string()
    .max(maxLength, `must be at most ${maxLength} characters`)
    .regex(
      multiLine ? withoutControlCharacters.multiLine : withoutControlCharacters.singleLine,
      multiLine
        ? 'must not contain control characters (newlines and tabs are fine)'
        : 'must be one line without control characters',
    );
}

/**
 * A bounded map from names to values: at most `maxEntries` of them (also stated in the JSON Schema, which
 * cannot express a refinement).
 */
export function boundedRecord<Key extends z.core.$ZodRecordKey, Value extends z.core.SomeType>(
  key: Key,
  value: Value,
  maxEntries: number,
) {
  return z
    .record(key, value)
    .refine((record) => Object.keys(record).length <= maxEntries, `must have at most ${maxEntries} entries`)
    .meta({ maxProperties: maxEntries });
}

/** The kernel's PATH_MAX. */
export const maxPathLength = 4096;

/**
 * An absolute path without shell metacharacters or `..` segments, normalised before any rule sees it (`/.` and
 * `//` are `/`, `/a//b/` is `/a/b`), so that no rule ("not the root cgroup") can be passed by spelling a path
 * differently. `..` is refused, not resolved: a path that climbs is a mistake or a way out of a directory.
 */
export const absolutePath = z
  .string()
  .max(maxPathLength, `must be at most ${maxPathLength} characters`)
  .regex(/^\/[A-Za-z0-9._/@+-]*$/, 'must be an absolute path of letters, digits and . _ / @ + -')
  .refine((path) => !path.split('/').includes('..'), 'must not contain ".." segments')
  .transform((path) => posix.normalize(path).replace(/(.)\/$/, '$1'));

/**
 * A regular expression from a plan, in RE2 syntax (no backreferences or lookaround): matched by RE2 in the
 * worker, in time linear in the text, so no pattern can stall a worker (`plan/regex.ts`).
 */
export const regexPattern = freeText(maxPatternLength).superRefine((pattern, ctx) => {
  const problem = patternProblem(pattern);
  if (problem !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message:
        `is not a regular expression RE2 accepts (${problem}); backreferences and lookaround are ` +
        'not supported, since they can take exponential time',
    });
  }
});

/**
 * A regular expression (RE2) matched against each process's full command line, as `pgrep -f` matches: the
 * worker reads the host's process list and matches it itself. Its characters are limited, since it is also
 * shown in commands and messages; how many processes it may select is bounded by the fault (`maxMatches`).
 */
export const processPattern = regexPattern
  .min(3, 'must be at least 3 characters, so that it cannot match every process')
  .regex(
    /^[A-Za-z0-9 ._/=:@+,^$-]+$/,
    'may contain only letters, digits, spaces and . _ / = : @ + , ^ $ - (an RE2 regular expression)',
  );

export const maxArgumentLength = 4096;

/** One argument of a command line that gameday may start. */
export const commandArgument = z
  .string()
  .max(maxArgumentLength, `must be at most ${maxArgumentLength} characters`)
  .regex(/^[A-Za-z0-9 ._/=:@+,%-]*$/, 'may contain only letters, digits, spaces and . _ / = : @ + , % -');

export const maxArguments = 64;

/**
 * Environment variables a command runs with (`env NAME=value … command`, never a shell): names as POSIX shells
 * take them, values with the same characters as any argument.
 */
export const commandEnvironment = boundedRecord(
  z
    .string()
    .max(64)
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be an environment variable name (letters, digits, _)'),
  commandArgument,
  32,
);

/** The argv that runs `argv` with `env` set: through env(1), so no shell is involved on any host. */
export function withEnvironment(
  argv: readonly string[],
  env: Readonly<Record<string, string>> | undefined,
): string[] {
  const entries = Object.entries(env ?? {});
  return entries.length === 0
    ? [...argv]
    : ['env', ...entries.map(([name, value]) => `${name}=${value}`), ...argv];
}

/** A command and its arguments (no shell). */
export const commandLine = z
  .array(commandArgument)
  .min(1, 'give the command')
  .max(maxArguments, `must have at most ${maxArguments} arguments`);

/** Names of plans, groups, checks and faults: they appear in workflow ids, tags and labels. */
export const identifier = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be lower-case letters, digits and "-" (like a DNS label)')
  .max(40, 'must be at most 40 characters');

export const tcpPort = z.number().int().min(1).max(65535);

/**
 * An http:// or https:// URL, of at most 2048 characters (what browsers and most servers accept). Control
 * characters are refused before the URL is parsed, which would silently drop tabs and line breaks.
 */
export const httpUrl = freeText(2048)
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }))
  .meta({ format: 'uri' });

/** A host's name in a worker's inventory ("kafka-1", "db-2.eu"). */
export const hostName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be lower-case letters, digits, "-" and "." (a host name)')
  .max(63);

/** An IPv4 address or CIDR block ("10.0.0.7", "10.0.0.0/24"). */
export const ipv4OrCidr = z
  .string()
  .max(18)
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/\d{1,2})?$/, 'must be an IPv4 address or CIDR block')
  .refine((value) => {
    const [address, bits] = value.split('/');
    const octetsOk = (address ?? '').split('.').every((octet) => Number(octet) <= 255);
    return octetsOk && (bits === undefined || Number(bits) <= 32);
  }, 'octets must be 0-255 and the prefix 0-32');

/**
 * A systemd unit that gameday may stop or restart ("nginx.service", "getty@tty1.service"): a full name with
 * its suffix, no globs, no option-looking leading "-", no bare template ("foo@.service"). Targets and mounts
 * are left out on purpose: stopping one stops whatever depends on it (the whole system, for "-.mount").
 */
export const unitName = z
  .string()
  .max(256)
  .regex(
    /^[A-Za-z0-9:_@][A-Za-z0-9:_.@-]*\.(service|socket|timer|path)$/,
    'must be a systemd unit name of letters, digits and : _ . @ - ending in .service, .socket, .timer or .path',
  )
  .refine((name) => !/@\.[a-z]+$/.test(name), 'a template unit needs an instance ("name@instance.service")');
/** A Docker container's name (or id), as Docker itself allows them: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. */
export const containerName = z
  .string()
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
    'must be a container name: letters, digits and _ . - (starting with a letter or digit)',
  )
  .max(128, 'must be at most 128 characters');

/** A Kubernetes namespace or object name (a DNS label or subdomain, as the API itself allows them). */
export const kubernetesName = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    'must be a Kubernetes name: lower-case letters, digits, "-" and "."',
  );

/** A context of the worker's Kubernetes configuration, by name. */
export const kubernetesContext = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
    'must be a context name from the worker configuration',
  );

/** A label key or value as Kubernetes allows it ("app", "app.kubernetes.io/component", "querynode"). */
const labelPart = z
  .string()
  .max(317)
  .regex(
    /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$|^$/,
    'must be a Kubernetes label key or value',
  );

/**
 * A selector as `kubectl get -l` and `--field-selector` take it ("app=kafka,tier in (a,b)"), or labels as a
 * map. It goes to the API as a query parameter (never a shell), which parses it; its characters are bounded.
 */
export const selectorText = z
  .string()
  .max(1000, 'must be at most 1000 characters')
  .regex(/^[A-Za-z0-9_./=!,() -]*$/, 'may contain only letters, digits, spaces and _ . / = ! , ( ) -');
export const labelSelector = z.union([selectorText, boundedRecord(labelPart, labelPart, 50)]);

/**
 * A Temporal task queue a target group's activities are dispatched to (`via: dc-west`): the queue of the
 * workers that can reach the group. Identifier-like and short, since it appears in commands' summaries and
 * the report; Temporal's own limit (1000 characters, no `/_sys/` prefix) is far wider.
 */
export const taskQueueName = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
    'must be a task queue name: letters, digits and - _ . (starting and ending with a letter or digit)',
  );
