import { once } from 'node:events'
import net from 'node:net'
import { createSession, duplexLink, linkPair, type Session, type SessionOptions } from '../src/index.ts'

export const bounded = (ms = 2000) => ({ signal: AbortSignal.timeout(ms) })

type Options = Omit<SessionOptions, 'role'>

/** Two sessions over an in-memory byte link (the full wire protocol, no socket). */
export async function pairSessions(client: Options = {}, server: Options = {}): Promise<[Session, Session]> {
  const [a, b] = linkPair()
  return Promise.all([
    createSession(a, { ...client, role: 'client' }),
    createSession(b, { ...server, role: 'server' }),
  ])
}

/** Two sessions over a real loopback TCP connection. */
export async function tcpSessions(
  client: Options = {},
  server: Options = {},
): Promise<[Session, Session, { clientSocket: net.Socket; serverSocket: net.Socket; close(): void }]> {
  const tcp = net.createServer()
  tcp.listen(0, '127.0.0.1')
  await once(tcp, 'listening')
  const port = (tcp.address() as net.AddressInfo).port
  const accepted = once(tcp, 'connection') as Promise<[net.Socket]>
  const clientSocket = net.connect(port, '127.0.0.1')
  await once(clientSocket, 'connect')
  const [serverSocket] = await accepted
  const [c, s] = await Promise.all([
    createSession(duplexLink(clientSocket, { transport: 'tcp', address: `127.0.0.1:${port}` }), {
      ...client,
      role: 'client',
    }),
    createSession(duplexLink(serverSocket, { transport: 'tcp', address: 'client' }), {
      ...server,
      role: 'server',
    }),
  ])
  return [c, s, { clientSocket, serverSocket, close: () => tcp.close() }]
}
