import { type LibswarmError, UnauthorizedError } from '../errors.ts'

/** Where {@link serverCertError} points the user: the transport and the names of its options. */
export interface ServerCertErrorContext {
  /** The package, as messages name it, e.g. `transport-tls`. */
  pkg: string
  /** The URL or address dialled, e.g. `tls://db.example:5001`. */
  target: string
  /** The host name the certificate was checked against. */
  host: string
  /** The option that takes trusted CA certificates, e.g. `ca` or `tls.ca`. Default: `ca`. */
  caOption?: string
  /** The option that sets the name checked against the certificate. Default: `servername`. */
  servernameOption?: string
}

/**
 * Describes why a client refused the server's TLS certificate, from Node's error `code`, as an
 * `UnauthorizedError` that says what to do (give the CA, fix the host name, renew the certificate).
 * Returns undefined when the error is not about the server's certificate. Every TLS-capable
 * transport (tls, https HTTP/2, wss WebSocket) answers these cases the same way.
 *
 * @example
 * socket.once('error', (error) => {
 *   reject(serverCertError(error, { pkg: 'transport-acme', target: url.href, host: url.hostname }) ?? error)
 * })
 */
export function serverCertError(error: unknown, context: ServerCertErrorContext): LibswarmError | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  const { pkg, target, host } = context
  const ca = context.caOption ?? 'ca'
  const servername = context.servernameOption ?? 'servername'
  const message = error instanceof Error ? error.message : String(error)
  const refused = (why: string) =>
    new UnauthorizedError(`[${pkg}] refused the server at ${target}: ${why}`, { cause: error })
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return refused('its certificate has expired; the server must renew it')
    case 'CERT_NOT_YET_VALID':
      return refused('its certificate is not valid yet; check the clocks')
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return refused(
        `its certificate is not for "${host}" (${message}); dial a name the certificate lists, or set option "${servername}"`,
      )
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return refused(
        `its certificate is self-signed (or signed by an untrusted root); give its CA in option "${ca}" to trust it`,
      )
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return refused(
        `its certificate is signed by a CA this client does not trust; give that CA in option "${ca}"`,
      )
    case 'CERT_REVOKED':
    case 'CERT_REJECTED':
    case 'CERT_UNTRUSTED':
    case 'INVALID_CA':
      return refused(message)
  }
  return undefined
}
