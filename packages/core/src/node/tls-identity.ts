import type { PeerCertificate, TLSSocket } from 'node:tls'

/** What `peer.identity` holds when a TLS server verified the client's certificate (mutual TLS). */
export interface TlsIdentity {
  /** The client certificate's subject, e.g. `{ CN: 'worker-1', O: 'swarm' }`. */
  subject: Record<string, string | string[]>
  /** Its issuer's subject. */
  issuer: Record<string, string | string[]>
  /** SHA-256 fingerprint, `AB:CD:...`. */
  fingerprint256: string
  /** Serial number (hex). */
  serialNumber: string
  /** End of validity, as the certificate states it. */
  validTo: string
}

/**
 * The verified client certificate of a TLS socket as a {@link TlsIdentity}, or undefined when the
 * socket is not authorized (no certificate, or one that did not verify).
 */
export function tlsIdentity(socket: TLSSocket): TlsIdentity | undefined {
  if (!socket.authorized) return undefined
  const cert: PeerCertificate = socket.getPeerCertificate()
  if (!cert || Object.keys(cert).length === 0) return undefined
  return {
    subject: { ...(cert.subject as unknown as Record<string, string | string[]>) },
    issuer: { ...(cert.issuer as unknown as Record<string, string | string[]>) },
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    validTo: cert.valid_to,
  }
}
