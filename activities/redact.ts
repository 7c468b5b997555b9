/**
 * Keeps the worker's secrets out of what it stores and shows (workflow history, reports, logs): each password
 * or token is registered as the worker reads it, and every text that leaves an activity is searched for it
 * (in the forms it takes in URLs, headers and JSON) and for credentials in general (URL user:password@,
 * Authorization headers, Basic and Bearer tokens, private keys) that the worker never registered, such as an
 * error page echoing a header a proxy added.
 */

export const redacted = '[redacted]';

/**
 * Shorter secrets are not searched for: replacing every "abc" in every message and name would garble them
 * (and the names results carry) without protecting anything a guess would not find.
 */
export const minimumSecretLength = 4;

/** Old forms are dropped first beyond this many (a token rotated every hour for months). */
const maximumForms = 1000;

/** The password as WHATWG URL serialisation writes it in `user:password@`, which differs from encodeURIComponent. */
function userinfoEncoded(secret: string): string {
  const url = new URL('http://host');
  url.password = secret;
  return url.password;
}

/** What a string looks like inside a JSON document (quotes and backslashes escaped). */
function jsonEscaped(secret: string): string {
  return JSON.stringify(secret).slice(1, -1);
}

/** Printable text, no control characters and no U+FFFD from invalid UTF-8: decoded base64 that means something. */
function printable(text: string): boolean {
  return !/[\p{Cc}\ufffd]/u.test(text);
}

/** "Basic <token>": a token that decodes to user:password, or one with digits or symbols (not the word "auth"). */
function looksLikeBasicToken(token: string): boolean {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  return (printable(decoded) && decoded.includes(':')) || /[0-9+/=]/.test(token);
}

/** "Bearer <token>": anything but a plain lower-case word, so "bearer tokens are read…" stays readable. */
function looksLikeBearerToken(token: string): boolean {
  return /[^a-z]/.test(token);
}

type Replacer = (match: string, ...groups: string[]) => string;

/** Credentials of any origin, by their shape; each keeps the words around it so messages stay readable. */
const credentialPatterns: readonly (readonly [RegExp, Replacer])[] = [
  [
    /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    () => `${redacted} private key`,
  ],
  // scheme://user:password@host (and scheme://token@host): the whole userinfo.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@\\"'<>]+@/gi, (_match, scheme) => `${scheme}${redacted}@`],
  // A header line or field, in text, HTML or JSON: "authorization: Basic …", "Authorization":"Bearer …". Its
  // value runs to the end of the line (or its quote); one already redacted is left alone, so that text redacted
  // twice keeps what follows it.
  [
    /\b((?:proxy-)?authorization|x-api-key)(["']?[ \t]*[:=][ \t]*["']?)(?![ \t"']|\[redacted\])[^"'\r\n<>]*/gi,
    (_match, name, separator) => `${name}${separator}${redacted}`,
  ],
  [
    /\b(Basic[ \t]+)([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/g,
    (match, lead, token) => (looksLikeBasicToken(token) ? `${lead}${redacted}` : match),
  ],
  [
    /\b(Bearer[ \t]+)([A-Za-z0-9\-._~+/]{8,}=*)/gi,
    (match, lead, token) => (looksLikeBearerToken(token) ? `${lead}${redacted}` : match),
  ],
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export class Redactor {
  /** Every form of every registered secret, oldest first. */
  private readonly forms = new Set<string>();
  /** The same, longest first, so that a secret containing another is replaced whole. */
  private byLength: string[] = [];

  private add(forms: readonly string[]): void {
    const fresh = forms.filter((form) => form.length >= minimumSecretLength && !this.forms.has(form));
    if (fresh.length === 0) return;
    for (const form of fresh) this.forms.add(form);
    for (const oldest of [...this.forms].slice(0, Math.max(0, this.forms.size - maximumForms))) {
      this.forms.delete(oldest);
    }
    this.byLength = [...this.forms].sort((a, b) => b.length - a.length);
  }

  /** A password, token or passphrase, as it is read; cheap to call again with the same one. */
  register(secret: string): void {
    if (secret.length < minimumSecretLength) return;
    this.add([secret, encodeURIComponent(secret), userinfoEncoded(secret), jsonEscaped(secret)]);
  }

  /** A basic-auth pair: the password, and the Authorization header's base64 of user:password. */
  registerBasicAuth(username: string, password: string): void {
    this.register(password);
    this.add([Buffer.from(`${username}:${password}`).toString('base64')]);
  }

  /** `text` without any registered secret and without anything shaped like a credential. */
  redact(text: string): string {
    let result = text;
    for (const form of this.byLength) {
      if (result.includes(form)) result = result.replaceAll(form, redacted);
    }
    for (const [pattern, replace] of credentialPatterns) result = result.replace(pattern, replace);
    return result;
  }

  /** A copy of JSON-like data (activity results) with every string, and every key, redacted. */
  redactDeep<T>(value: T): T {
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item));
    if (isPlainObject(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.redact(key), this.walk(item)]),
      );
    }
    return value;
  }
}

/** The worker's secrets: registered where they are read (worker/prometheusEndpoints.ts, sshInventory.ts). */
export const workerSecrets = new Redactor();

/** `text` as the worker may store or show it. */
export function redact(text: string): string {
  return workerSecrets.redact(text);
}
