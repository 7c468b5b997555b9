import type { Logger } from 'pino';

// Webhook notifications, sent after the report (or when a rollback gets stuck). A notification that cannot be
// sent is the caller's timeline note, never the game day's outcome: this activity does not throw for it.

/**
 * What a webhook is told about: a game day that did not pass, a rollback that is stuck, a janitor sweep that
 * found leftovers of finished runs.
 */
export const notificationEvents = ['not-passed', 'rollback-stuck', 'janitor-findings'] as const;
export type NotificationEvent = (typeof notificationEvents)[number];
export type GameDayNotificationEvent = Exclude<NotificationEvent, 'janitor-findings'>;

/** A configured webhook. Its URL and token are read when sent (env or file) and registered as secrets. */
export interface Webhook {
  readonly on: readonly NotificationEvent[];
  readonly timeoutMs: number;
  url(): Promise<string>;
  headers(): Promise<Record<string, string>>;
}

/** The worker's named webhooks. */
export interface Webhooks {
  readonly names: readonly string[];
  webhook(name: string): Webhook | undefined;
}

/** What a notification says about the game day: from its report, nothing a plan did not already show. */
export interface NotificationSummary {
  readonly plan: string;
  readonly owner: string;
  readonly tag: string;
  readonly workflowId: string;
  readonly outcome?: string;
  readonly reason?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly faults: readonly { name: string; target: string; status: string }[];
}

/** What a janitor notification says: the sweep's counts and its first findings, as its report lists them. */
export interface JanitorNotificationSummary {
  readonly workflowId: string;
  readonly apply: boolean;
  /** Findings before anything was removed; `inPlace` of them were faults still acting (not inert files). */
  readonly found: number;
  readonly inPlace: number;
  readonly removed: number;
  readonly failed: number;
  /** With apply: what a second look still found. */
  readonly remaining: number;
  readonly hosts: readonly string[];
  /** The first findings (a chat message lists a few; the janitor's report has them all). */
  readonly items: readonly { host: string; tag: string; what: string; since?: string }[];
}

export type NotifyInput =
  | {
      readonly names: readonly string[];
      readonly event: GameDayNotificationEvent;
      readonly summary: NotificationSummary;
    }
  | {
      readonly names: readonly string[];
      readonly event: 'janitor-findings';
      readonly janitor: JanitorNotificationSummary;
    };

export interface NotifyResult {
  /** Webhooks that answered 2xx. */
  readonly sent: readonly string[];
  /** `name: why`, never with the URL or a response body (either may carry a secret). */
  readonly failed: readonly string[];
}

const attempts = 2;

/** Slack's `text` (also read by Mattermost, Teams' incoming webhooks and most chat bridges). */
export function notificationText(input: NotifyInput): string {
  if (input.event === 'janitor-findings') return janitorText(input.janitor);
  const { event, summary } = input;
  const stuck = summary.faults.filter((fault) => fault.status === 'rollback-stuck');
  const what =
    event === 'rollback-stuck'
      ? `rollback stuck for ${stuck.map((f) => `${f.name} on ${f.target}`).join(', ') || 'a fault'}: ` +
        'gameday keeps retrying; a person must fix the cause'
      : `${summary.outcome ?? 'did not pass'}${summary.reason ? `: ${summary.reason}` : ''}`;
  return `gameday: game day ${summary.plan} (owner ${summary.owner}) ${what} — tag ${summary.tag}, workflow ${summary.workflowId}`;
}

function janitorText(sweep: JanitorNotificationSummary): string {
  const found = `${sweep.found} leftover(s) of finished game days on ${sweep.hosts.join(', ') || 'no host'}`;
  const inPlace = sweep.inPlace > 0 ? `, ${sweep.inPlace} still in place` : ', only files';
  const after = sweep.apply
    ? `; removed ${sweep.removed}, ${sweep.failed} failed, ${sweep.remaining} remain`
    : '; dry run: remove them with gameday janitor --apply';
  return `gameday janitor: ${found}${inPlace}${after} — workflow ${sweep.workflowId}`;
}

/** Why a request failed, in words that name neither the URL nor what the server sent back. */
function whyFailed(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return `could not connect (${cause.code})`;
  return 'could not send';
}

async function sendOnce(webhook: Webhook, body: string): Promise<string | undefined> {
  try {
    const response = await fetch(await webhook.url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await webhook.headers()) },
      body,
      signal: AbortSignal.timeout(webhook.timeoutMs),
      redirect: 'error',
    });
    await response.body?.cancel();
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    // A secret that cannot be read says which variable or file, never its value.
    if (error instanceof Error && /environment variable|cannot read/.test(error.message))
      return error.message;
    return whyFailed(error);
  }
}

/** Sends the event to each named webhook that takes it (two tries each); what failed is returned, not thrown. */
export async function notify(
  deps: { readonly webhooks?: Webhooks; readonly log: Logger },
  input: NotifyInput,
): Promise<NotifyResult> {
  const details = input.event === 'janitor-findings' ? input.janitor : input.summary;
  const body = JSON.stringify({
    text: notificationText(input),
    gameday: { event: input.event, ...details },
  });
  const sent: string[] = [];
  const failed: string[] = [];
  for (const name of input.names) {
    const webhook = deps.webhooks?.webhook(name);
    if (webhook === undefined) {
      failed.push(`${name}: this worker has no such webhook`);
      continue;
    }
    if (!webhook.on.includes(input.event)) continue;
    let problem: string | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      problem = await sendOnce(webhook, body);
      if (problem === undefined) break;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (problem === undefined) sent.push(name);
    else {
      failed.push(`${name}: ${problem}`);
      deps.log.warn({ webhook: name, problem }, 'notification not sent');
    }
  }
  return { sent, failed };
}
