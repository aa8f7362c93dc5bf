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

/**
 * Serves a {@link reference} to `service` at the far end of a loopback TCP session and resolves with
 * the proxy the near end receives; each step waits at most `timeout` ms. `close()` ends both ends.
 */
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

/** How an adapter's own tests reach a service: directly in memory, or across a real session. */
export interface Scenario {
  /** `memory` or `tcp session`, for `describe.each(scenarios)('... ($name)')`. */
  name: string
  /** Returns the service as the test sees it; everything it set up ends when `signal` fires. */
  connect(service: Service, signal: AbortSignal): Promise<Service>
}

/**
 * The two ways the compliance suite reaches an instance, for an adapter's own tests: in memory, and
 * over a real loopback TCP session ({@link overSession}, torn down when the signal fires).
 */
export const scenarios: readonly Scenario[] = [
  { name: 'memory', connect: async (service) => service },
  {
    name: 'tcp session',
    connect: async (service, signal) => {
      const reached = await overSession(service, 5000)
      if (signal.aborted) void reached.close()
      else signal.addEventListener('abort', () => void reached.close(), { once: true })
      return reached.service
    },
  },
]
