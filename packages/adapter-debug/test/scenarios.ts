import { createServer, connect as netConnect, type Socket } from 'node:net'
import { createSession, duplexLink, type Service } from '@libswarm/core'

/** How a test reaches the service: directly in memory, or across a real session. */
export interface Scenario {
  name: string
  /** Returns the service as the test sees it; everything it set up ends when `signal` fires. */
  connect(service: Service, signal: AbortSignal): Promise<Service>
}

/**
 * Puts `service` at the far end of a real session over a loopback TCP connection: the far side
 * opens a channel and sends the service on it; the near side receives the proxy it returns.
 */
async function overTcpSession(service: Service, signal: AbortSignal): Promise<Service> {
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
  const served = await accepted
  listener.close()
  const [near, far] = await Promise.all([
    createSession(duplexLink(dialled, { transport: 'tcp', address: `127.0.0.1:${port}` }), {
      role: 'client',
    }),
    createSession(duplexLink(served, { transport: 'tcp', address: 'test' }), { role: 'server' }),
  ])
  signal.addEventListener(
    'abort',
    () => {
      near.abort()
      far.abort()
      dialled.destroy()
      served.destroy()
    },
    { once: true },
  )
  const carrier = far.open<Service>()
  await carrier.send(service, { signal: AbortSignal.timeout(5000) })
  const incoming = await near.accept<Service>({ signal: AbortSignal.timeout(5000) })
  return incoming.receive({ signal: AbortSignal.timeout(5000) })
}

export const scenarios: Scenario[] = [
  { name: 'memory', connect: async (service) => service },
  { name: 'tcp session', connect: overTcpSession },
]
