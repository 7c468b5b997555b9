import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  hostsMatch,
  judgeKnownHosts,
  knownHostsName,
  parseKnownHosts,
  type KnownHostsEntry,
} from '../activities/executors/hostKeys';
import { SshExecutor } from '../activities/executors/ssh';
import { startTestHosts, type TestHost, type TestHosts } from './support/hosts';

const run = promisify(execFile);

/** An ed25519 public key blob (type name, then 32 bytes), as a host would present it. */
function ed25519Blob(fill: number): Buffer {
  const type = Buffer.from('ssh-ed25519');
  const length = (n: number) => Buffer.from([0, 0, 0, n]);
  return Buffer.concat([length(type.length), type, length(32), Buffer.alloc(32, fill)]);
}

const keyA = ed25519Blob(1);
const keyB = ed25519Blob(2);
const keyText = (blob: Buffer) => `ssh-ed25519 ${blob.toString('base64')}`;

/** The line numbers OpenSSH's own matcher selects for name in file (`ssh-keygen -F`), with their markers. */
async function openSshMatches(file: string, name: string): Promise<string[]> {
  const { stdout } = await run('ssh-keygen', ['-F', name, '-f', file]).catch(() => ({ stdout: '' }));
  return [...stdout.matchAll(/^# Host \S+ found: line (\d+) ?(\S*)$/gm)].map(([, line, mark]) =>
    `${line} ${mark === 'REVOKED' ? '@revoked' : mark === 'CA' ? '@cert-authority' : ''}`.trim(),
  );
}

function ourMatches(text: string, name: string): string[] {
  return parseKnownHosts(text)
    .filter((line): line is KnownHostsEntry => 'key' in line && hostsMatch(line.hosts, name))
    .map((entry) => `${entry.line} ${entry.marker ?? ''}`.trim());
}

describe('known_hosts parsing and matching', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gameday-known-hosts-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads markers, host fields, key types and keys, and numbers lines as editors do', () => {
    const text = [
      '# comment',
      '',
      `kafka-1,10.0.0.5 ${keyText(keyA)} a comment`,
      `@revoked\t*  ${keyText(keyB)}\r`,
      `   @cert-authority *.example ${keyText(keyA)}`,
      `@bogus kafka-1 ${keyText(keyA)}`,
      `@revoked @cert-authority kafka-1 ${keyText(keyA)}`,
      'kafka-1 ssh-ed25519',
      'kafka-1 ssh-ed25519 not*base64',
      `kafka-1 ssh-rsa ${keyA.toString('base64')}`,
    ].join('\n');
    assert.deepEqual(parseKnownHosts(text), [
      { line: 3, marker: undefined, hosts: 'kafka-1,10.0.0.5', keyType: 'ssh-ed25519', key: keyA },
      { line: 4, marker: '@revoked', hosts: '*', keyType: 'ssh-ed25519', key: keyB },
      { line: 5, marker: '@cert-authority', hosts: '*.example', keyType: 'ssh-ed25519', key: keyA },
      { line: 6, hosts: 'kafka-1', problem: 'unknown marker @bogus' },
      { line: 7, hosts: 'kafka-1', problem: 'more than one marker' },
      { line: 8, hosts: 'kafka-1', problem: 'no key' },
      { line: 9, hosts: 'kafka-1', problem: 'its key is not base64' },
      { line: 10, hosts: 'kafka-1', problem: 'its key is not a ssh-rsa key' },
    ]);
  });

  it('matches host patterns: lists, * and ?, negation, [host]:port, case, hashed names', () => {
    const cases: [hosts: string, host: string, port: number, matches: boolean][] = [
      ['kafka-1', 'kafka-1', 22, true],
      ['kafka-1', 'kafka-10', 22, false],
      ['zk-1,kafka-1', 'kafka-1', 22, true],
      ['Kafka-1', 'KAFKA-1', 22, true],
      ['10.213.*', '10.213.7.11', 22, true],
      ['10.213.*', '10.214.7.11', 22, false],
      ['10.213.7.1?', '10.213.7.11', 22, true],
      ['10.213.7.1?', '10.213.7.1', 22, false],
      ['*', 'anything', 22, true],
      ['*.example', 'example', 22, false],
      ['10.213.*,!10.213.7.11', '10.213.7.11', 22, false],
      ['10.213.*,!10.213.7.11', '10.213.7.12', 22, true],
      ['!10.213.7.11,10.213.7.11', '10.213.7.11', 22, false],
      ['!10.213.7.11', '10.213.7.12', 22, false],
      ['[10.213.7.11]:2222', '10.213.7.11', 2222, true],
      ['10.213.7.11', '10.213.7.11', 2222, false],
      ['[10.213.7.11]:2222', '10.213.7.11', 22, false],
      // OpenSSH looks up the bare name on port 22, so a [host]:22 line never matches.
      ['[10.213.7.11]:22', '10.213.7.11', 22, false],
      ['[10.213.7.*]:2222', '10.213.7.11', 2222, true],
      ['|1|4HybnyY3P9A8CAaa0w8e1s98YEc=|DG2fzRdY/qCRitEith4ZSLrnWS4=', '10.0.0.1', 22, true],
      ['|1|4HybnyY3P9A8CAaa0w8e1s98YEc=|DG2fzRdY/qCRitEith4ZSLrnWS4=', '10.0.0.2', 22, false],
      ['|1|bad|hash', '10.0.0.1', 22, false],
    ];
    for (const [hosts, host, port, matches] of cases) {
      assert.equal(hostsMatch(hosts, knownHostsName(host, port)), matches, `${hosts} vs ${host}:${port}`);
    }
  });

  it('selects the same lines as OpenSSH (ssh-keygen -F), plain and hashed by ssh-keygen -H', async () => {
    const text = [
      `10.213.7.11 ${keyText(keyA)}`,
      `10.213.7.*,!10.213.7.12 ${keyText(keyA)}`,
      `@revoked * ${keyText(keyB)}`,
      `@revoked 10.213.9.* ${keyText(keyB)}`,
      `@cert-authority *.example,10.213.7.1? ${keyText(keyB)}`,
      `[10.213.7.11]:2222,kafka-?.example ${keyText(keyA)}`,
      `Kafka-1.Example,!*.internal ${keyText(keyA)}`,
      `kafka-2.example,10.213.7.13 ${keyText(keyB)}`,
    ].join('\n');
    const plain = join(dir, 'plain');
    writeFileSync(plain, `${text}\n`);
    const hashed = join(dir, 'hashed');
    writeFileSync(hashed, `${text}\n`);
    await run('ssh-keygen', ['-H', '-f', hashed]);
    const hashedText = readFileSync(hashed, 'utf8');
    assert.match(hashedText, /^\|1\|/m, 'ssh-keygen hashed some lines');
    // The oracle itself answers: a wildcard, a revocation and a CA line select 10.213.7.11, beside its own line.
    assert.deepEqual(await openSshMatches(plain, '10.213.7.11'), [
      '1',
      '2',
      '3 @revoked',
      '5 @cert-authority',
    ]);
    const names = [
      '10.213.7.11',
      '10.213.7.12',
      '10.213.7.13',
      '10.213.9.1',
      '[10.213.7.11]:2222',
      '[10.213.7.12]:2222',
      'kafka-1.example',
      'kafka-2.example',
      'kafka-10.example',
      'a.internal',
      'unknown',
    ];
    for (const [file, contents] of [
      [plain, text],
      [hashed, hashedText],
    ] as const) {
      for (const name of names) {
        assert.deepEqual(ourMatches(contents, name), await openSshMatches(file, name), `${name} in ${file}`);
      }
    }
  });

  it('refuses a key marked @revoked for the host even when a plain line accepts it, naming file:line', () => {
    const file = '/etc/gameday/known_hosts';
    const judge = (lines: string[], port = 22) =>
      judgeKnownHosts(lines.join('\n'), file, '10.213.7.11', port, keyA);
    const accepting = `10.213.7.11 ${keyText(keyA)}`;
    assert.equal(judge([accepting]), undefined);
    assert.match(
      judge([accepting, `@revoked 10.213.7.11 ${keyText(keyA)}`]) ?? '',
      /^host key SHA256:\S+ of 10\.213\.7\.11 is marked @revoked in \/etc\/gameday\/known_hosts:2: /,
    );
    assert.match(
      judge(['# revoked everywhere', `@revoked * ${keyText(keyA)}`, accepting]) ?? '',
      /is marked @revoked in \/etc\/gameday\/known_hosts:2: /,
    );
    assert.match(
      judge([`10.213.7.* ${keyText(keyA)}`, `@revoked 10.213.* ${keyText(keyA)}`]) ?? '',
      /is marked @revoked in \/etc\/gameday\/known_hosts:2: /,
    );
    // As in OpenSSH: a revocation applies to the hosts its line names, and only to its own key.
    assert.equal(judge([accepting, `@revoked kafka-9 ${keyText(keyA)}`]), undefined);
    assert.equal(judge([accepting, `@revoked * ${keyText(keyB)}`]), undefined);
    assert.match(
      judge([`[10.213.7.11]:2222 ${keyText(keyA)}`, `@revoked [10.213.7.11]:2222 ${keyText(keyA)}`], 2222) ??
        '',
      /of \[10\.213\.7\.11\]:2222 is marked @revoked in \/etc\/gameday\/known_hosts:2/,
    );
  });

  it('@cert-authority lines never accept a key; alone, they are a refusal that says what to do', () => {
    const file = 'known_hosts';
    const judge = (lines: string[]) => judgeKnownHosts(lines.join('\n'), file, 'kafka-1', 22, keyA);
    assert.equal(
      judge([`@cert-authority * ${keyText(keyA)}`]),
      'known_hosts has only @cert-authority lines for kafka-1 (line 1), and gameday does not verify host ' +
        'certificates: pin the host key (hostKey.fingerprints in the worker configuration) or add a plain ' +
        'known_hosts line for it',
    );
    assert.match(
      judge([`@cert-authority * ${keyText(keyB)}`, `@cert-authority kafka-* ${keyText(keyA)}`]) ?? '',
      /only @cert-authority lines for kafka-1 \(lines 1, 2\)/,
    );
    assert.equal(judge([`@cert-authority * ${keyText(keyB)}`, `kafka-1 ${keyText(keyA)}`]), undefined);
    assert.match(
      judge([`@cert-authority * ${keyText(keyA)}`, `kafka-1 ${keyText(keyB)}`]) ?? '',
      /^host key SHA256:\S+ of kafka-1 does not match known_hosts \(line 2\)/,
    );
  });

  it('negation excludes, wildcards accept; unreadable lines for the host refuse, others are ignored', () => {
    const judge = (lines: string[]) => judgeKnownHosts(lines.join('\n'), 'kh', '10.213.7.11', 22, keyA);
    assert.equal(judge([`10.213.* ${keyText(keyA)}`]), undefined);
    assert.equal(
      judge([`10.213.*,!10.213.7.11 ${keyText(keyA)}`]),
      'no entry for 10.213.7.11:22 in kh: add its key (ssh-keyscan) or pin its fingerprint',
    );
    assert.match(judge([`10.213.7.11,!10.213.7.11 ${keyText(keyA)}`]) ?? '', /^no entry for/);
    assert.equal(judge([`10.213.7.11 ${keyText(keyA)}`, `@revokd 10.213.9.1 ${keyText(keyA)}`]), undefined);
    assert.equal(
      judge([`10.213.7.11 ${keyText(keyA)}`, `@revokd 10.213.7.* ${keyText(keyA)}`]),
      'kh:2 names 10.213.7.11 but cannot be read (unknown marker @revokd): fix or remove that line',
    );
    assert.match(
      judge([`10.213.7.11 ${keyText(keyA)}`, `@revoked * ssh-ed25519 AAAA`]) ?? '',
      /^kh:2 names 10\.213\.7\.11 but cannot be read \(its key is not a ssh-ed25519 key\)/,
    );
  });
});

describe('known_hosts against a real sshd, decided as OpenSSH ssh decides', () => {
  let lab: TestHosts;
  let host: TestHost;
  let knownHosts: string;
  before(async () => {
    lab = await startTestHosts(1);
    host = lab.hosts[0] as TestHost;
    knownHosts = join(lab.dir, 'known_hosts_under_test');
  });
  after(async () => {
    await lab?.stop();
  });

  const hostKey = () => host.knownHostsLine.split(' ').slice(1).join(' ');

  /** Connects with gameday's SSH executor using known_hosts text; returns the refusal, if any. */
  async function gamedayRefusal(lines: string[]): Promise<string | undefined> {
    writeFileSync(knownHosts, `${lines.join('\n')}\n`);
    const executor = new SshExecutor(
      {
        name: host.name,
        address: host.address,
        port: host.port,
        user: 'root',
        hostKey: { knownHostsFile: knownHosts },
        maxSessions: 10,
      },
      { privateKey: lab.privateKey },
      { readyTimeoutMs: 3000 },
    );
    try {
      assert.equal((await executor.run(['true'])).exitCode, 0);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await executor.close();
    }
  }

  /** Whether OpenSSH's own client, strict and non-interactive, connects with the same file. */
  async function openSshConnects(): Promise<boolean> {
    const options = [
      'UserKnownHostsFile=' + knownHosts,
      'GlobalKnownHostsFile=/dev/null',
      'StrictHostKeyChecking=yes',
      'BatchMode=yes',
      'ConnectTimeout=5',
    ];
    const argv = ['-F', '/dev/null', '-i', join(lab.dir, 'client_key'), ...options.flatMap((o) => ['-o', o])];
    return run('ssh', [...argv, `root@${host.address}`, 'true']).then(
      () => true,
      () => false,
    );
  }

  async function expectConnects(lines: string[]): Promise<void> {
    assert.equal(await gamedayRefusal(lines), undefined, lines.join('\n'));
    assert.equal(await openSshConnects(), true, `OpenSSH agrees:\n${lines.join('\n')}`);
  }

  async function expectRefused(lines: string[], reason: RegExp): Promise<void> {
    const refusal = await gamedayRefusal(lines);
    assert.match(refusal ?? 'connected', reason, lines.join('\n'));
    assert.match(
      refusal ?? '',
      /^cannot reach host host-1 \(10\.213\.\d+\.11:22\) over SSH: .*\(refusing to connect\)$/,
    );
    assert.equal(await openSshConnects(), false, `OpenSSH agrees:\n${lines.join('\n')}`);
  }

  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

  it('a plain entry connects; a @revoked line for its key refuses, naming @revoked and file:line', async () => {
    await expectConnects(['# the host', host.knownHostsLine]);
    const revoked = (line: number) =>
      new RegExp(
        `host key ${escaped(host.fingerprint)} of ${escaped(host.address)} is marked @revoked in ${escaped(knownHosts)}:${line}: `,
      );
    await expectRefused([host.knownHostsLine, `@revoked ${host.address} ${hostKey()}`], revoked(2));
    await expectRefused([`@revoked * ${hostKey()}`, host.knownHostsLine], revoked(1));
    await expectRefused([`10.213.* ${hostKey()}`, '', `@revoked 10.213.* ${hostKey()}`], revoked(3));
    // A revocation names hosts like any line: one for other hosts does not touch this one (OpenSSH agrees).
    await expectConnects([host.knownHostsLine, `@revoked kafka-9,10.9.9.9 ${hostKey()}`]);
  });

  it('hashed entries, as ssh-keygen -H writes them, accept and revoke alike', async () => {
    writeFileSync(knownHosts, `${host.knownHostsLine}\n`);
    await run('ssh-keygen', ['-H', '-f', knownHosts]);
    const hashedLine = readFileSync(knownHosts, 'utf8').trim();
    assert.match(hashedLine, /^\|1\|\S+ ssh-ed25519 /);
    await expectConnects([hashedLine]);
    const hashedName = hashedLine.split(' ')[0] ?? '';
    await expectRefused(
      [hashedLine, `@revoked ${hashedName} ${hostKey()}`],
      new RegExp(`is marked @revoked in ${escaped(knownHosts)}:2: `),
    );
  });

  it('@cert-authority lines alone are refused plainly, with what to do', async () => {
    await expectRefused(
      [`@cert-authority * ${hostKey()}`],
      /has only @cert-authority lines for 10\.213\.\d+\.11 \(line 1\), and gameday does not verify host certificates: pin the host key \(hostKey\.fingerprints in the worker configuration\) or add a plain known_hosts line for it/,
    );
  });

  it('a negated pattern excludes the host, even when another pattern of its line names it', async () => {
    await expectRefused([`10.213.*,!${host.address} ${hostKey()}`], /no entry for 10\.213\.\d+\.11:22 in /);
    await expectRefused([`${host.address},!${host.address} ${hostKey()}`], /no entry for /);
  });

  it('a 10.213.* wildcard accepts the host', async () => {
    await expectConnects([`10.213.* ${hostKey()}`]);
    await expectConnects([`10.213.*.1?,!10.213.*.12 ${hostKey()}`]);
  });
});
