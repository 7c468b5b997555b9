import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** How an SSH host proves who it is. Turning verification off is explicit, and loud. */
export type HostKeyPolicy =
  | { readonly fingerprints: readonly string[] }
  | { readonly knownHostsFile: string }
  | { readonly insecureSkipVerify: true };

/** OpenSSH's form: "SHA256:" and unpadded base64 of the SHA-256 of the key blob. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export type KnownHostsMarker = '@revoked' | '@cert-authority';

/** A readable known_hosts line (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"). */
export interface KnownHostsEntry {
  /** 1-based, as editors and OpenSSH's messages count. */
  readonly line: number;
  readonly marker: KnownHostsMarker | undefined;
  /** Comma-separated patterns (`*`, `?`, `!` negation, `[host]:port`), or one hashed name `|1|salt|hash`. */
  readonly hosts: string;
  readonly keyType: string;
  readonly key: Buffer;
}

/** A line that is neither blank nor a comment but cannot be read as an entry. */
export interface UnreadableLine {
  readonly line: number;
  /** Its host field, when it has one: an unreadable line matters only to the hosts it names. */
  readonly hosts: string | undefined;
  readonly problem: string;
}

export type KnownHostsLine = KnownHostsEntry | UnreadableLine;

const markers: readonly string[] = ['@revoked', '@cert-authority'] satisfies KnownHostsMarker[];
const base64Text = /^[A-Za-z0-9+/]+={0,2}$/;

function isMarker(word: string): word is KnownHostsMarker {
  return markers.includes(word);
}

/** The key blob a line's base64 field holds, or what is wrong with it; the blob must name the line's type. */
function keyBlobOf(keyType: string, text: string): Buffer | string {
  if (!base64Text.test(text)) return 'its key is not base64';
  const blob = Buffer.from(text, 'base64');
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : blob.length;
  const named = 4 + typeLength <= blob.length ? blob.subarray(4, 4 + typeLength).toString('latin1') : '';
  return named === keyType ? blob : `its key is not a ${keyType} key`;
}

function parseLine(text: string, line: number): KnownHostsLine | undefined {
  const fields = text.trim().split(/[ \t]+/);
  const first = fields[0] ?? '';
  if (first === '' || first.startsWith('#')) return undefined;
  let marker: KnownHostsMarker | undefined;
  if (first.startsWith('@')) {
    fields.shift();
    if (!isMarker(first)) return { line, hosts: fields[0], problem: `unknown marker ${first}` };
    if (fields[0]?.startsWith('@')) return { line, hosts: fields[1], problem: 'more than one marker' };
    marker = first;
  }
  const [hosts, keyType, keyText] = fields;
  if (hosts === undefined) return { line, hosts, problem: 'no host names' };
  if (keyType === undefined || keyText === undefined) return { line, hosts, problem: 'no key' };
  const key = keyBlobOf(keyType, keyText);
  if (typeof key === 'string') return { line, hosts, problem: key };
  return { line, marker, hosts, keyType, key };
}

/** Every line of a known_hosts file but blanks and comments, in order. */
export function parseKnownHosts(text: string): KnownHostsLine[] {
  return text.split('\n').flatMap((line, index) => parseLine(line, index + 1) ?? []);
}

/** The name OpenSSH looks up for host:port: the host itself on port 22, `[host]:port` on any other port. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** OpenSSH's match_pattern: `*` is any run of characters, `?` any one; everything else is literal. */
function wildcardMatches(name: string, pattern: string): boolean {
  let n = 0;
  let p = 0;
  // Where the last `*` was, and how much of the name it has swallowed: backtrack there on a mismatch.
  let star = -1;
  let starName = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      n++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      starName = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++starName;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, compared whole, as OpenSSH's match_maybe_hashed does. */
function hashedNameMatches(field: string, name: string): boolean {
  const [empty, magic, salt, hash, ...rest] = field.split('|');
  if (empty !== '' || magic !== '1' || salt === undefined || hash === undefined || rest.length > 0)
    return false;
  const saltBytes = Buffer.from(salt, 'base64');
  if (saltBytes.length !== 20) return false;
  const expected = createHmac('sha1', saltBytes).update(name).digest('base64');
  return `|1|${saltBytes.toString('base64')}|${expected}` === field;
}

/**
 * Whether a line's host field names `name` (from knownHostsName). A hashed field is one name; otherwise any
 * matching pattern selects the line, unless a matching `!pattern` excludes it (OpenSSH's match_pattern_list).
 */
export function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|')) return hashedNameMatches(hosts, name);
  let selected = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcardMatches(name, negated ? pattern.slice(1) : pattern)) continue;
    if (negated) return false;
    selected = true;
  }
  return selected;
}

function lineNumbers(lines: readonly KnownHostsLine[]): string {
  return `${lines.length === 1 ? 'line' : 'lines'} ${lines.map((l) => l.line).join(', ')}`;
}

/**
 * Judges a presented host key against known_hosts text as OpenSSH's ssh does, returning why it is refused.
 * Only lines whose host field names the host count, `@revoked` ones included (as in OpenSSH: `@revoked *`
 * revokes a key for every host). A revoked key is refused even when another line accepts it. `@cert-authority`
 * lines accept only certificates, which ssh2 never negotiates, so they never accept a key here. Stricter than
 * OpenSSH: a line for the host that cannot be read is a refusal, not skipped (it may have been meant to revoke).
 */
export function judgeKnownHosts(
  text: string,
  file: string,
  host: string,
  port: number,
  keyBlob: Buffer,
): string | undefined {
  const name = knownHostsName(host, port);
  const forHost = parseKnownHosts(text).filter(
    (line) => line.hosts !== undefined && hostsMatch(line.hosts, name),
  );
  const entries = forHost.filter((line): line is KnownHostsEntry => 'key' in line);
  const presented = fingerprintOf(keyBlob);
  const revoked = entries.find((entry) => entry.marker === '@revoked' && entry.key.equals(keyBlob));
  if (revoked) {
    return `host key ${presented} of ${name} is marked @revoked in ${file}:${revoked.line}: a revoked key is never accepted; give the host a new key and list that one`;
  }
  const unreadable = forHost.find((line): line is UnreadableLine => 'problem' in line);
  if (unreadable) {
    return `${file}:${unreadable.line} names ${name} but cannot be read (${unreadable.problem}): fix or remove that line`;
  }
  const plain = entries.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.key.equals(keyBlob))) return undefined;
  if (plain.length > 0) {
    return `host key ${presented} of ${name} does not match ${file} (${lineNumbers(plain)}): update the line if the host was re-keyed on purpose`;
  }
  const authorities = entries.filter((entry) => entry.marker === '@cert-authority');
  if (authorities.length > 0) {
    return `${file} has only @cert-authority lines for ${name} (${lineNumbers(authorities)}), and gameday does not verify host certificates: pin the host key (hostKey.fingerprints in the worker configuration) or add a plain known_hosts line for it`;
  }
  return `no entry for ${host}:${port} in ${file}: add its key (ssh-keyscan) or pin its fingerprint`;
}

/** Decides whether a presented host key is acceptable; returns a reason when it is not. */
export async function checkHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  keyBlob: Buffer,
): Promise<string | undefined> {
  if ('insecureSkipVerify' in policy) return undefined;
  if ('fingerprints' in policy) {
    const presented = fingerprintOf(keyBlob);
    return policy.fingerprints.includes(presented)
      ? undefined
      : `host key ${presented} is not one of the pinned fingerprints`;
  }
  const text = await readFile(policy.knownHostsFile, 'utf8');
  return judgeKnownHosts(text, policy.knownHostsFile, host, port, keyBlob);
}
