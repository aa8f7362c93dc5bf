/**
 * Puts a service at the far end of a real session over a loopback TCP connection and returns the
 * proxy the near end sees: the far side opens a channel and sends the service (a Sender) on it; the
 * near side receives it as a proxy, so every request, return channel and byte stream crosses the
 * wire protocol.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net'
import { createSession, duplexLink, reference, type Service } from '@libswarm/core'

/** A service reached through a session, and how to tear the session down. */
export interface OverSession {
  service: Service
  close(): Promise<void>
}

export async function overSession(service: Service, timeout: number): Promise<OverSession> {
  const listener = createServer()
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(0, '127.0.0.1', resolve)
  })
  const { port } = listener.address() as { port: number }
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve))
  const dialled = netConnect(port, '127.0.0.1')
  const sockets: Socket[] = [dialled]
  try {
    await new Promise<void>((resolve, reject) => {
      dialled.once('connect', resolve)
      dialled.once('error', reject)
    })
    const farSocket = await accepted
    sockets.push(farSocket)
    const [near, far] = await Promise.all([
      createSession(duplexLink(dialled, { transport: 'tcp', address: `127.0.0.1:${port}` }), {
        role: 'client',
      }),
      createSession(duplexLink(farSocket, { transport: 'tcp', address: 'compliance-client' }), {
        role: 'server',
      }),
    ])
    const carrier = far.open<Service>()
    await carrier.send(reference(service), { signal: AbortSignal.timeout(timeout) })
    const incoming = await near.accept<Service>({ signal: AbortSignal.timeout(timeout) })
    const proxy = await incoming.receive({ signal: AbortSignal.timeout(timeout) })
    return {
      service: proxy,
      close: async () => {
        // The far side keeps a stream open for the exposed service; a graceful close would wait for
        // its closeTimeout, so both ends are ended at once.
        near.abort()
        far.abort()
        for (const socket of sockets) socket.destroy()
      },
    }
  } catch (error) {
    for (const socket of sockets) socket.destroy()
    throw error
  } finally {
    listener.close()
  }
}
