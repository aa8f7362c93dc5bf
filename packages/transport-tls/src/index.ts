/**
 * @libswarm/transport-tls: libswarm sessions over TLS (`tls://host:port`), server-authenticated or
 * mutual. Certificate checks are on by default; `peer.identity` carries a verified client
 * certificate's subject.
 *
 * @example
 * import { readFileSync } from 'node:fs'
 * import { connect, listen } from '@libswarm/core'
 * import { tls } from '@libswarm/transport-tls'
 *
 * const server = await listen('tls://127.0.0.1:0', {
 *   transports: [tls({ cert: readFileSync('server.pem'), key: readFileSync('server.key') })],
 * })
 * const session = await connect(server.url, {
 *   transports: [tls({ ca: readFileSync('ca.pem'), servername: 'localhost' })],
 * })
 *
 * @packageDocumentation
 */
export { type Pem, type TlsIdentity, type TlsOptions, tls } from './tls.ts'
