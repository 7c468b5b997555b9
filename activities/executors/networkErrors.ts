// Which network errors mean "could not even ask" rather than "the other side said no". A refused, reset,
// unreachable or silent peer is an answer (a partition, a stopped service); a name that does not resolve, or
// a certificate that cannot be verified (so who answered is unknown), is not an observation of the system.

const nameResolutionCodes = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

const tlsVerificationCodes = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The `code` of an error or of the first error in its cause chain that has one. */
export function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** Why asking failed before any answer, or undefined when the error is the peer's answer. */
export function couldNotAskReason(error: unknown): string | undefined {
  const code = errorCode(error);
  if (code === undefined) return undefined;
  if (nameResolutionCodes.has(code)) return `the name does not resolve (${code})`;
  if (tlsVerificationCodes.has(code)) return `the TLS certificate cannot be verified (${code})`;
  return undefined;
}
