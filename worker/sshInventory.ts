import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { workerSecrets } from '../activities/redact';
import { SshExecutor, type SshCredential } from '../activities/executors/ssh';
import type { WorkerConfig } from './config';

/**
 * One pooled SSH executor per inventory host, made on first use. Keys and passphrases are read here, from
 * the worker's files and environment: plans and workflow history only ever carry host names.
 */
export class SshInventory {
  private readonly executors = new Map<string, SshExecutor>();

  constructor(
    private readonly config: WorkerConfig['ssh'],
    private readonly log: Logger,
  ) {}

  get hostNames(): string[] {
    return Object.keys(this.config.hosts);
  }

  get unverifiedHostNames(): string[] {
    return Object.entries(this.config.hosts)
      .filter(([, host]) => 'insecureSkipVerify' in host.hostKey)
      .map(([name]) => name);
  }

  private credential(name: string): SshCredential {
    const entry = this.config.credentials[name];
    if (entry === undefined) throw new Error(`no SSH credential named "${name}" in the worker configuration`);
    const passphrase = entry.passphraseEnv ? process.env[entry.passphraseEnv] : undefined;
    // An SSH error that quoted it (or a stored message that did) would put it in history: it is redacted.
    if (passphrase) workerSecrets.register(passphrase);
    const agent = entry.agent ? process.env.SSH_AUTH_SOCK : undefined;
    return {
      ...(entry.privateKeyFile ? { privateKey: readFileSync(entry.privateKeyFile) } : {}),
      ...(passphrase ? { passphrase } : {}),
      ...(agent ? { agent } : {}),
    };
  }

  executor(name: string): SshExecutor {
    const existing = this.executors.get(name);
    if (existing) return existing;
    const host = this.config.hosts[name];
    if (host === undefined) throw new Error(`host ${name} is not in this worker's SSH inventory`);
    const created = new SshExecutor(
      {
        name,
        address: host.address,
        port: host.port,
        user: host.user,
        hostKey: host.hostKey,
        maxSessions: host.maxSessions,
      },
      this.credential(host.credential),
      {
        readyTimeoutMs: this.config.readyTimeoutMs,
        onInsecure: (hostName) =>
          this.log.warn({ host: hostName }, 'connecting WITHOUT host key verification (insecureSkipVerify)'),
      },
    );
    this.executors.set(name, created);
    return created;
  }

  async close(): Promise<void> {
    await Promise.all([...this.executors.values()].map((executor) => executor.close()));
    this.executors.clear();
  }
}
