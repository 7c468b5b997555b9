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

function hostPatterns(host: string, port: number): string[] {
  return port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
}

function matchesHost(field: string, names: readonly string[]): boolean {
  if (field.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    const [, , salt, hash] = field.split('|');
    if (salt === undefined || hash === undefined) return false;
    return names.some(
      (name) => createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash,
    );
  }
  return field.split(',').some((entry) => names.includes(entry));
}

/** The key blobs known_hosts lists for host:port (plain or hashed entries; markers are not honoured). */
export async function knownKeys(file: string, host: string, port: number): Promise<Buffer[]> {
  const text = await readFile(file, 'utf8');
  const names = hostPatterns(host, port);
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('@'))
    .map((line) => line.split(/\s+/))
    .filter(([hosts]) => hosts !== undefined && matchesHost(hosts, names))
    .map(([, , key]) => Buffer.from(key ?? '', 'base64'));
}

/** Decides whether a presented host key is acceptable; returns a reason when it is not. */
export async function checkHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  keyBlob: Buffer,
): Promise<string | undefined> {
  if ('insecureSkipVerify' in policy) return undefined;
  const presented = fingerprintOf(keyBlob);
  if ('fingerprints' in policy) {
    return policy.fingerprints.includes(presented)
      ? undefined
      : `host key ${presented} is not one of the pinned fingerprints`;
  }
  const keys = await knownKeys(policy.knownHostsFile, host, port);
  if (keys.length === 0) return `no entry for ${host}:${port} in ${policy.knownHostsFile}`;
  return keys.some((key) => key.equals(keyBlob))
    ? undefined
    : `host key ${presented} does not match ${policy.knownHostsFile}`;
}
