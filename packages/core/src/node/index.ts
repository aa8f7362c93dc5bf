/**
 * `@libswarm/core/node`: Node-only building blocks for transports over `node:net`, `node:tls` and
 * Node HTTP servers. The main entry (`@libswarm/core`) stays loadable in a browser; this one imports
 * Node modules and is for transports and servers.
 *
 * @example
 * import { createServer } from 'node:net'
 * import { createSession } from '@libswarm/core'
 * import { formatAddress, QueueListener, socketLink } from '@libswarm/core/node'
 *
 * const server = createServer({ allowHalfOpen: true }).listen(5000, '127.0.0.1')
 * const listener = new QueueListener(new URL('tcp://127.0.0.1:5000'), async () => void server.close())
 * server.on('connection', (socket) => {
 *   const address = formatAddress(socket.remoteAddress, socket.remotePort)
 *   listener.admit(socketLink(socket, { transport: 'tcp', address }))
 * })
 * for await (const link of listener) {
 *   const session = await createSession(link, { role: 'server' })
 * }
 *
 * @packageDocumentation
 */
export * from './bearer.ts'
export * from './listener.ts'
export * from './net.ts'
export * from './socket-link.ts'
export * from './tls-errors.ts'
export * from './tls-identity.ts'
