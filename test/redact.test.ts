import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ApplicationFailure,
  CancelledFailure,
  defaultFailureConverter,
  defaultPayloadConverter,
  ensureApplicationFailure,
} from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pino from 'pino';
import { minimumSecretLength, redact, redacted, Redactor } from '../activities/redact';
import { loadWorkerConfig, workerConfigSchema } from '../worker/config';
import { prometheusEndpoints } from '../worker/prometheusEndpoints';
import { redactingActivityInterceptors } from '../worker/redactingInterceptor';
import { SshInventory } from '../worker/sshInventory';

const password = 'gd S3cr3t/p@ss:w0rd%+!"';
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('the redactor', () => {
  it('replaces a registered secret in every form it takes in URLs, headers and JSON', () => {
    const redactor = new Redactor();
    redactor.registerBasicAuth('gameday', password);
    const url = new URL('http://host');
    url.password = password;
    const forms = {
      raw: password,
      encodeURIComponent: encodeURIComponent(password),
      'URL userinfo': url.password,
      'JSON string': JSON.stringify(password).slice(1, -1),
      'base64(user:password)': base64(`gameday:${password}`),
    };
    for (const [name, form] of Object.entries(forms)) {
      assert.equal(redactor.redact(`before ${form} after`), `before ${redacted} after`, name);
    }
    assert.equal(redactor.redact('nothing secret here'), 'nothing secret here');
  });

  it('replaces the longest secret first, and ignores secrets too short to search for', () => {
    const redactor = new Redactor();
    redactor.register('abcd');
    redactor.register('abcd-1234');
    assert.equal(redactor.redact('abcd-1234 and abcd'), `${redacted} and ${redacted}`);
    const short = 'x'.repeat(minimumSecretLength - 1);
    redactor.register(short);
    assert.equal(redactor.redact(`${short} stays`), `${short} stays`);
  });

  it('replaces credentials it was never told about, by their shape', () => {
    const redactor = new Redactor();
    const cases: [string, string][] = [
      ['fetch http://u:p%40ss@10.0.0.1:9090/api failed', `fetch http://${redacted}@10.0.0.1:9090/api failed`],
      ['https://ghp_token123@github.com/x', `https://${redacted}@github.com/x`],
      ['authorization: Basic dXNlcjpwYXNz\nhost: x', `authorization: ${redacted}\nhost: x`],
      ['<td>Authorization</td>', '<td>Authorization</td>'],
      ['{"Authorization":"Bearer abc.def","host":"x"}', `{"Authorization":"${redacted}","host":"x"}`],
      ['Proxy-Authorization: Negotiate YII=', `Proxy-Authorization: ${redacted}`],
      ['sent Basic dXNlcjpwYXNz to it', `sent Basic ${redacted} to it`],
      ['sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.x to it', `sent Bearer ${redacted} to it`],
      [
        'key -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY----- done',
        `key ${redacted} private key done`,
      ],
      ['cut -----BEGIN RSA PRIVATE KEY-----\nMIIEow', `cut ${redacted} private key`],
    ];
    for (const [text, expected] of cases) {
      assert.equal(redactor.redact(text), expected, text);
      assert.equal(redactor.redact(expected), expected, `redacting again changes nothing: ${expected}`);
    }
    assert.equal(
      redactor.redact(`HTTP 500: authorization: ${redacted} host: 127.0.0.1:9090`),
      `HTTP 500: authorization: ${redacted} host: 127.0.0.1:9090`,
      'what follows a redacted header on one line is kept',
    );
  });

  it('leaves ordinary messages alone', () => {
    const redactor = new Redactor();
    for (const text of [
      'Prometheus endpoint "default" (http://127.0.0.1:9090): bad_data: 1:5: parse error',
      "HTTP 401 (check the endpoint's credentials in the worker configuration): HTTP 401: Unauthorized",
      'Basic auth is configured; bearer tokens are read from bearerTokenFile at every query',
      'https://example.com/search?from=a@b.c',
      'authorization failed for user gameday',
      'mail ops@example.com',
    ]) {
      assert.equal(redactor.redact(text), text);
    }
  });

  it('redacts deep copies of results: strings and keys, keeping numbers, booleans and the original', () => {
    const redactor = new Redactor();
    redactor.register('t0ken-value');
    const result = {
      name: 'check',
      holds: false,
      value: 3,
      missing: null,
      samples: [{ detail: 'HTTP 500: t0ken-value' }, 't0ken-value'],
      byName: { 't0ken-value': 1 },
    };
    const copy = redactor.redactDeep(result);
    assert.deepEqual(copy, {
      name: 'check',
      holds: false,
      value: 3,
      missing: null,
      samples: [{ detail: `HTTP 500: ${redacted}` }, redacted],
      byName: { [redacted]: 1 },
    });
    assert.equal(result.samples[1], 't0ken-value', 'the original is not changed');
  });
});

describe('Prometheus URLs with user:password@ in the worker configuration', () => {
  const urlPassword = encodeURIComponent(password);
  const endpointsOf = (endpoints: Record<string, unknown>) =>
    workerConfigSchema.parse({ prometheus: { endpoints } }).prometheus;
  /** The configuration's refusal, checked not to quote the password in any form. */
  const refusal = (endpoints: Record<string, unknown>): string => {
    const parsed = workerConfigSchema.safeParse({ prometheus: { endpoints } });
    assert.equal(parsed.success, false, 'refused');
    const text = JSON.stringify(parsed.error);
    for (const form of [password, urlPassword, base64(`gameday:${password}`)]) {
      assert.ok(!text.includes(form), 'the refusal does not quote the password');
    }
    return parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n');
  };

  it('are taken apart on load: the URL without them, the credentials sent as basic auth', async () => {
    const config = endpointsOf({ secured: { url: `http://gameday:${urlPassword}@127.0.0.1:9090/prom` } });
    const secured = config.endpoints.secured;
    assert.equal(secured?.url, 'http://127.0.0.1:9090/prom');
    assert.deepEqual(secured?.urlBasicAuth, { username: 'gameday', password });
    const endpoint = prometheusEndpoints(config).endpoint('secured');
    assert.equal(endpoint?.url, 'http://127.0.0.1:9090/prom');
    assert.deepEqual(await endpoint?.headers(), {
      authorization: `Basic ${base64(`gameday:${password}`)}`,
    });
    assert.equal(redact(`echoed ${urlPassword}`), `echoed ${redacted}`, 'registered with the redactor');
    assert.equal(
      endpointsOf({ plain: { url: 'http://127.0.0.1:9090' } }).endpoints.plain?.url,
      'http://127.0.0.1:9090',
      'a URL without credentials is kept as written',
    );
  });

  it('are refused with basicAuth or a bearer token on the same endpoint, or with a part missing', () => {
    const url = `https://gameday:${urlPassword}@prometheus.example.com`;
    const oneWay = /prometheus\.endpoints\.x\.url: has user:password@ and the endpoint also sets basicAuth/;
    assert.match(refusal({ x: { url, basicAuth: { username: 'u', passwordEnv: 'P' } } }), oneWay);
    assert.match(refusal({ x: { url, bearerTokenEnv: 'TOKEN' } }), oneWay);
    assert.match(refusal({ x: { url, bearerTokenFile: '/run/token' } }), oneWay);
    assert.match(refusal({ x: { url: 'http://gameday@h:9090' } }), /one of them empty: write both/);
    assert.match(refusal({ x: { url: `http://:${urlPassword}@h:9090` } }), /one of them empty/);
    assert.match(refusal({ x: { url: 'http://u:%E0%A4%A@h:9090' } }), /not valid percent-encoding/);
  });

  it('GAMEDAY_PROMETHEUS_URL is taken apart the same way, and refused next to basicAuth from the file', async () => {
    const url = `http://gameday:${urlPassword}@127.0.0.1:9090`;
    const fromEnv = await loadWorkerConfig(undefined, { GAMEDAY_PROMETHEUS_URL: url });
    assert.equal(fromEnv.prometheus.endpoints.default?.url, 'http://127.0.0.1:9090');
    assert.equal(fromEnv.prometheus.endpoints.default?.urlBasicAuth?.password, password);
    const dir = mkdtempSync(join(tmpdir(), 'gameday-redact-'));
    try {
      const file = join(dir, 'worker.yaml');
      writeFileSync(
        file,
        'prometheus:\n  endpoints:\n    default:\n      url: http://127.0.0.1:9090\n' +
          '      basicAuth: { username: gameday, passwordEnv: GAMEDAY_PROMETHEUS_PASSWORD }\n',
      );
      const refused = await loadWorkerConfig(file, { GAMEDAY_PROMETHEUS_URL: url }).then(
        () => assert.fail('accepted'),
        (error: Error) => error.message,
      );
      assert.match(
        refused,
        /prometheus\.endpoints\.default\.url: has user:password@ and the endpoint also sets/,
      );
      assert.ok(!refused.includes(urlPassword) && !refused.includes(password));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the activity interceptor: results and failures leave the worker redacted', () => {
  const secret = 'sup3r-s3cret-t0ken';
  const redactor = new Redactor();
  redactor.register(secret);
  /** A real SDK activity run (the worker's Activity class) with the interceptor, as the worker registers it. */
  const run = <T>(body: () => Promise<T>, activityType = 'runCheck'): Promise<T> =>
    new MockActivityEnvironment(
      { activityType },
      {
        interceptors: [redactingActivityInterceptors({ redactor, stateResultsOf: ['prepareFault'] })],
        logger: new DefaultLogger('ERROR'), // the SDK warns of every failed activity, and these fail on purpose
      },
    ).run(body);
  /** The failure exactly as the worker would send it to the server, payloads decoded, as text. */
  const stored = (error: unknown): string => {
    const failure = defaultFailureConverter.errorToFailure(
      ensureApplicationFailure(error),
      defaultPayloadConverter,
    );
    return JSON.stringify(failure, (key, value: unknown) =>
      key === 'data' && value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value,
    );
  };
  const thrown = (body: () => Promise<unknown>): Promise<unknown> =>
    run(body).then(
      () => assert.fail('the activity succeeded'),
      (error: unknown) => error,
    );

  it('a result: every string in it, however deep', async () => {
    const result = await run(() =>
      Promise.resolve({ checks: [{ name: 'c', detail: `HTTP 500: ${secret}`, value: 1 }], held: true }),
    );
    assert.deepEqual(result, {
      checks: [{ name: 'c', detail: `HTTP 500: ${redacted}`, value: 1 }],
      held: true,
    });
  });

  it('a state result (what a rollback restores) passes unchanged; its failure does not', async () => {
    const saved = { processes: [{ pid: 1, argv: ['db', `--url=postgres://app:${secret}@db/x`] }] };
    assert.deepEqual(await run(() => Promise.resolve(saved), 'prepareFault'), saved);
    const error = await run(() => Promise.reject(new Error(`no ${secret}`)), 'prepareFault').catch(
      (failure: unknown) => failure,
    );
    assert.equal((error as Error).message, `no ${redacted}`);
  });

  it('an ApplicationFailure: message, stack, cause and details, keeping its type and nonRetryable', async () => {
    const original = ApplicationFailure.create({
      message: `permission denied for ${secret}`,
      type: 'PermissionDenied',
      nonRetryable: true,
      details: [{ stderr: `token ${secret} refused` }],
      cause: new Error(`connect with ${secret}`),
    });
    const error = await thrown(() => Promise.reject(original));
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error, original, 'the same error, so the SDK treats it exactly as before');
    assert.equal(error.type, 'PermissionDenied');
    assert.equal(error.nonRetryable, true);
    assert.equal(error.message, `permission denied for ${redacted}`);
    assert.deepEqual(error.details, [{ stderr: `token ${redacted} refused` }]);
    assert.equal((error.cause as Error).message, `connect with ${redacted}`);
    const text = stored(error);
    assert.ok(!text.includes(secret), text);
    assert.match(text, /token \[redacted\] refused/, 'details were encoded (and decoded here)');
    assert.match(text, /"nonRetryable":true/);
  });

  it('a plain error (and one whose message is a getter) stays retryable, with its stack redacted', async () => {
    const error = await thrown(() => Promise.reject(new TypeError(`fetch http://u:${secret}@host failed`)));
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, `fetch http://${redacted}@host failed`);
    assert.ok(!(error.stack ?? '').includes(secret), 'the stack repeats the message');
    const text = stored(error);
    assert.ok(!text.includes(secret), text);
    assert.match(text, /"type":"TypeError","nonRetryable":false/);

    const timeout = await thrown(() =>
      Promise.reject(new DOMException(`no answer from ${secret}`, 'TimeoutError')),
    );
    assert.ok(timeout instanceof DOMException);
    assert.equal(timeout.message, `no answer from ${redacted}`);
  });

  it('a frozen error is rebuilt as an ApplicationFailure of the same type', async () => {
    const error = await thrown(() => Promise.reject(Object.freeze(new RangeError(`bad ${secret}`))));
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'RangeError');
    assert.equal(error.nonRetryable, false);
    assert.ok(!stored(error).includes(secret));
  });

  it('cancellation passes through untouched, so it is still reported as one', async () => {
    const cancelled = new CancelledFailure(`cancelled ${secret}`);
    assert.equal(await thrown(() => Promise.reject(cancelled)), cancelled);
    assert.equal(cancelled.message, `cancelled ${secret}`);
  });
});

describe('SSH passphrases', () => {
  it('are registered with the redactor when the inventory reads them', async () => {
    const passphrase = 'gd-ssh-passphrase-42';
    process.env.GAMEDAY_TEST_SSH_PASSPHRASE = passphrase;
    const { ssh } = workerConfigSchema.parse({
      ssh: {
        credentials: { key: { passphraseEnv: 'GAMEDAY_TEST_SSH_PASSPHRASE' } },
        hosts: {
          'host-1': { address: '127.0.0.1', credential: 'key', hostKey: { insecureSkipVerify: true } },
        },
      },
    });
    const inventory = new SshInventory(ssh, pino({ level: 'silent' }));
    try {
      assert.equal(redact(`ssh: ${passphrase}`), `ssh: ${passphrase}`, 'not known before it is read');
      inventory.executor('host-1'); // reads the credential; connects only on first use
      assert.equal(redact(`ssh: ${passphrase}`), `ssh: ${redacted}`);
    } finally {
      await inventory.close();
    }
  });
});
