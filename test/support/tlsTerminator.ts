// mTLS in front of the dev server: `temporal server start-dev` has no TLS flags, so the tests put a real TLS
// endpoint (Node's tls, client certificates required) before its plain gRPC port and pipe the decrypted bytes.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';

export interface TestPki {
  /** The CA that signed the server and client certificates. */
  readonly caCert: string;
  /** A second CA that signed nothing here: a profile trusting it must refuse the server. */
  readonly otherCaCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** The subject CN of the client certificate, as the terminator must see it. */
  readonly clientCommonName: string;
}

const openssl = (dir: string, args: readonly string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
};

function newCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  // -addext on top of the v3_ca section of Debian's openssl.cnf: a CA that signs certificates (and CRLs) only.
  // prettier-ignore
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=gameday test ${name}`,
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

function issue(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  commonName: string,
  extensions: string,
): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const request = join(dir, `${name}.csr`);
  const extensionFile = join(dir, `${name}.ext`);
  writeFileSync(extensionFile, extensions);
  // prettier-ignore
  openssl(dir, [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', request, '-subj', `/CN=${commonName}`,
  ]);
  // prettier-ignore
  openssl(dir, [
    'x509', '-req', '-in', request, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-out', cert, '-extfile', extensionFile,
  ]);
  return { cert, key };
}

/**
 * A test CA with a server certificate for localhost/127.0.0.1 and a client certificate, made by Debian's
 * openssl (X.509 v3 with the extensions rustls insists on: the worker's connection is Rust's, the CLI's Node's).
 */
export function createTestPki(dir: string): TestPki {
  const ca = newCa(dir, 'ca');
  const other = newCa(dir, 'other-ca');
  const server = issue(
    dir,
    ca,
    'server',
    'localhost',
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=DNS:localhost,IP:127.0.0.1\n',
  );
  const clientCommonName = 'gameday-tls-test-client';
  const client = issue(
    dir,
    ca,
    'client',
    clientCommonName,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  return {
    caCert: ca.cert,
    otherCaCert: other.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    clientCommonName,
  };
}

export interface TlsTerminator {
  /** 127.0.0.1:port of the TLS endpoint. */
  readonly address: string;
  /** Client certificate CNs of the sessions that completed the handshake, in order. */
  readonly sessions: string[];
  /** Handshakes refused, with the reason Node gave (no certificate, unknown CA, …). */
  readonly refusals: string[];
  /** Decrypted bytes piped to the dev server and back. */
  readonly bytes: { toServer: number; toClient: number };
  close(): Promise<void>;
}

/** TLS 1.2+ with ALPN h2 (gRPC), client certificates from `pki`'s CA required, to the plain `upstream`. */
export async function startTlsTerminator(pki: TestPki, upstream: string): Promise<TlsTerminator> {
  const [upstreamHost, upstreamPort] = [
    upstream.slice(0, upstream.lastIndexOf(':')),
    upstream.split(':').pop(),
  ];
  const sessions: string[] = [];
  const refusals: string[] = [];
  const bytes = { toServer: 0, toClient: 0 };
  const open = new Set<TLSSocket>();
  const server: Server = createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: readFileSync(pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      open.add(socket);
      const peer = socket.getPeerCertificate();
      sessions.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : '(none)');
      const plain = connectTcp(Number(upstreamPort), upstreamHost);
      socket.on('data', (chunk: Buffer) => (bytes.toServer += chunk.length));
      plain.on('data', (chunk: Buffer) => (bytes.toClient += chunk.length));
      socket.pipe(plain).pipe(socket);
      const end = () => {
        socket.destroy();
        plain.destroy();
        open.delete(socket);
      };
      socket.on('error', end).on('close', end);
      plain.on('error', end).on('close', end);
    },
  );
  server.on('tlsClientError', (error) => refusals.push(error.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    refusals,
    bytes,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}
