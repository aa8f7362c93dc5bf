/**
 * Puts a service at the far end of a real session over a loopback TCP connection and returns the
 * proxy the near end sees: the far side opens a channel and sends the service (a Sender) on it, the
 * near side receives the proxy. Returns a reason string when the session layer lacks what is needed.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net'
import {
  type Link,
  type PeerInfo,
  type Receiver,
  reference,
  type Sender,
  type Service,
} from '../src/index.ts'
import type { Exposed } from './services-fixture.ts'

interface SessionLike {
  open<T>(): Sender<T>
  accept<T>(options?: { signal?: AbortSignal }): Promise<Receiver<T>>
  close(): Promise<void>
  abort(reason?: unknown): void
}

type CreateSession = (link: Link, options: { role: 'client' | 'server' }) => Promise<SessionLike>
type DuplexLink = (duplex: Socket, peer: PeerInfo) => Link

export function sessionPair(mod: Record<string, unknown>): string | ((service: Service) => Promise<Exposed>) {
  const createSession = mod.createSession as CreateSession | undefined
  const duplexLink = mod.duplexLink as DuplexLink | undefined
  if (typeof createSession !== 'function' || typeof duplexLink !== 'function') {
    return 'the session layer does not export createSession and duplexLink yet'
  }
  return async (service) => {
    const listener = createServer()
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject)
      listener.listen(0, '127.0.0.1', resolve)
    })
    const { port } = listener.address() as { port: number }
    const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve))
    const dialled = netConnect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      dialled.once('connect', resolve)
      dialled.once('error', reject)
    })
    const serverSocket = await accepted
    listener.close()
    const [near, far] = await Promise.all([
      createSession(duplexLink(dialled, { transport: 'tcp', address: `127.0.0.1:${port}` }), {
        role: 'client',
      }),
      createSession(duplexLink(serverSocket, { transport: 'tcp', address: 'client' }), { role: 'server' }),
    ])
    const carrier = far.open<Service>()
    await carrier.send(reference(service))
    const incoming = await near.accept<Service>({ signal: AbortSignal.timeout(5_000) })
    const proxy = await incoming.receive({ signal: AbortSignal.timeout(5_000) })
    return {
      service: proxy,
      close: async () => {
        // The far side keeps a stream open for the exposed service, so a graceful close would wait
        // for its closeTimeout: end both sessions at once instead.
        near.abort()
        far.abort()
        dialled.destroy()
        serverSocket.destroy()
      },
    }
  }
}
