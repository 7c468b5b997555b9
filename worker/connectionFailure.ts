import { checkServerIdentity, connect as connectTls, type ConnectionOptions as TlsOptions } from 'node:tls';
import type { ResolvedConnection } from './connectionOptions';

/** Temporal could not be reached (or configured): the message is one line for the person at the terminal. */
export class TemporalUnreachable extends Error {}

/**
 * Why a connection failed, in one line naming the address. Over TLS the gRPC clients only say "failed to
 * connect before the deadline" (Node) or a Rust error chain (the worker), so one handshake is made here with the
 * same CA, client certificate and server name to tell which part is wrong. Messages name the profile's keys
 * (paths are the user's own), never certificate or key contents.
 */
export async function temporalUnreachable(
  resolved: ResolvedConnection,
  error: unknown,
): Promise<TemporalUnreachable> {
  const reported = firstLine(error instanceof Error ? error.message : String(error));
  const tls = resolved.options.tls;
  if (tls === undefined || tls === null || tls === false) {
    return new TemporalUnreachable(
      `cannot reach Temporal at ${resolved.address}: ${reported}. ` +
        'Start one with `gameday dev`, or pass --address / set TEMPORAL_ADDRESS.',
    );
  }
  const profile = resolved.profile === undefined ? '' : ` (profile ${resolved.profile})`;
  const why = await tlsHandshakeFailure(resolved.address, tls === true ? {} : tls);
  return new TemporalUnreachable(
    `cannot reach Temporal at ${resolved.address} over TLS${profile}: ` +
      (why ?? `${reported} (the TLS handshake itself succeeded: check the namespace, API key and address)`),
  );
}

interface TemporalTls {
  readonly serverNameOverride?: string;
  readonly serverRootCACertificate?: Uint8Array;
  readonly clientCertPair?: { readonly crt: Uint8Array; readonly key: Uint8Array };
}

const untrustedServer = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
]);

const refusedClientCertificate = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
]);

/** What a TLS handshake to `address` with these settings runs into, in plain words; undefined when it works. */
function tlsHandshakeFailure(address: string, tls: TemporalTls): Promise<string | undefined> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  const serverName = tls.serverNameOverride ?? host;
  const hasClientCertificate = tls.clientCertPair !== undefined;
  const options: TlsOptions = {
    host,
    port,
    ALPNProtocols: ['h2'],
    ...(/^[\d.]+$|:/.test(serverName) ? {} : { servername: serverName }),
    // As the gRPC clients do: the certificate must name server_name when given, else the address's host.
    checkServerIdentity: (_host, cert) => checkServerIdentity(serverName, cert),
    ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
    ...(tls.clientCertPair
      ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
      : {}),
  };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => finish('no TLS handshake within 5 s; check the address'), 5000);
    let socket: ReturnType<typeof connectTls>;
    try {
      socket = connectTls(options);
    } catch (error) {
      // A client certificate or key file that is not PEM, or not a pair: Node says so without the contents.
      clearTimeout(timer);
      resolve(`client_cert_path / client_key_path: ${firstLine((error as Error).message)}`);
      return;
    }
    socket.on('secureConnect', () => {
      // TLS 1.3 servers refuse a client certificate after the client's side of the handshake is done: wait
      // for their alert (or their silence) before calling the handshake good.
      socket.on('data', () => undefined);
      setTimeout(() => finish(undefined), 500);
    });
    socket.on('close', () =>
      finish(
        socket.authorized
          ? hasClientCertificate
            ? 'the server closed the connection after the handshake: it probably refused the client certificate (client_cert_path / client_key_path)'
            : 'the server closed the connection after the handshake: it probably wants a client certificate (set client_cert_path and client_key_path)'
          : 'the server closed the connection during the TLS handshake; check the address',
      ),
    );
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(explain(error, serverName, hasClientCertificate)),
    );
  });
}

function explain(error: NodeJS.ErrnoException, serverName: string, hasClientCertificate: boolean): string {
  const code = error.code ?? '';
  const said = opensslReason(error.message);
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'].includes(code)) {
    return `nothing answers there (${code}); check the address`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return 'the server there does not speak TLS; check the address, or disable TLS for it (tls.disabled = true)';
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not for ${serverName} (${said}); set server_name to a name it holds`;
  }
  if (untrustedServer.has(code)) {
    return `the server's certificate is not trusted (${said}); check server_ca_cert_path (the CA that signed it)`;
  }
  if (
    code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' ||
    (!hasClientCertificate && /handshake failure/.test(said))
  ) {
    return 'the server requires a client certificate; set client_cert_path and client_key_path';
  }
  if (refusedClientCertificate.has(code)) {
    return `the server refused the client certificate (${said}); check client_cert_path / client_key_path`;
  }
  return `TLS: ${said}`;
}

/** "…:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/…" → the reason alone. */
function opensslReason(message: string): string {
  return /:SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? firstLine(message);
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
