import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, get, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, listen, type Transport } from '@libswarm/core'
import { unix } from '@libswarm/transport-unix'
import { afterEach, describe, expect, it } from 'vitest'
import { type GatewayConnection, gatewayListen, gatewayTarget, tcp } from '../src/index.ts'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/** An HTTP server that says who it is and echoes the request path and body. */
async function httpTarget(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => res.end(`target saw ${req.method} ${req.url} ${body}`))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => new Promise((r) => server.close(r)))
  return { server, port: (server.address() as { port: number }).port }
}

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve(`${res.statusCode} ${text}`))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from the gateway on ${port} within 5 s`)))
    req.on('error', reject)
  })
}

describe.each([
  { name: 'tcp', url: () => 'tcp://127.0.0.1:0', transport: (): Transport => tcp() },
  { name: 'unix', url: (dir: string) => `unix://${dir}/gw.sock`, transport: (): Transport => unix() },
])('TCP gateway over a $name session', ({ url, transport }) => {
  it('reaches an HTTP server through the gateway, many connections at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ls-gw-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const target = await httpTarget()

    // The remote end: accepts sessions; each channel the peer opens is a gateway feed.
    const sessions = await listen(url(dir), { transports: [transport()] })
    cleanups.push(() => sessions.close())
    const targetErrors: Error[] = []
    const remote = (async () => {
      const session = await sessions.accept({ signal: AbortSignal.timeout(5000) })
      cleanups.push(() => session.abort())
      const channel = await session.accept<GatewayConnection>({ signal: AbortSignal.timeout(5000) })
      await gatewayTarget(channel, { port: target.port, onError: (e) => targetErrors.push(e) })
    })()
    void remote.catch(() => {})

    // The local end: a session to the remote, and a gateway port feeding a channel on it.
    const session = await connect(sessions.url, {
      transports: [transport()],
      signal: AbortSignal.timeout(5000),
    })
    cleanups.push(() => session.abort())
    const gateway = await gatewayListen({ port: 0, to: session.open<GatewayConnection>() })
    cleanups.push(() => gateway.close())
    expect(gateway.port).toBeGreaterThan(0)

    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => fetchText(gateway.port, `/hello/${i}`)))
    expect(answers).toEqual([1, 2, 3, 4, 5].map((i) => `200 target saw GET /hello/${i} `))
    expect(gateway.forwarded).toBe(5)
    expect(targetErrors).toEqual([])
  })
})

describe('TCP gateway errors', () => {
  it('a target that refuses is reported to onError and the client connection closes', async () => {
    const sessions = await listen('tcp://127.0.0.1:0', { transports: [tcp()] })
    cleanups.push(() => sessions.close())
    const errors: Error[] = []
    let notify!: () => void
    const failed = new Promise<void>((r) => (notify = r))
    void (async () => {
      const session = await sessions.accept({ signal: AbortSignal.timeout(5000) })
      cleanups.push(() => session.abort())
      const channel = await session.accept<GatewayConnection>({ signal: AbortSignal.timeout(5000) })
      await gatewayTarget(channel, {
        port: 1,
        onError: (e) => {
          errors.push(e)
          notify()
        },
      })
    })().catch(() => {})
    const session = await connect(sessions.url, { transports: [tcp()], signal: AbortSignal.timeout(5000) })
    cleanups.push(() => session.abort())
    const gateway = await gatewayListen({ port: 0, to: session.open<GatewayConnection>() })
    cleanups.push(() => gateway.close())
    await expect(fetchText(gateway.port, '/')).rejects.toThrow()
    await Promise.race([
      failed,
      new Promise((_, j) => setTimeout(() => j(new Error('no onError')), 5000).unref()),
    ])
    expect(errors[0]?.message).toContain('tcp://127.0.0.1:1')
  })

  it('rejects bad options with InvalidArgumentError', async () => {
    await expect(gatewayListen({ port: -1, to: undefined as never })).rejects.toThrow(/"port"/)
    await expect(gatewayListen({ port: 0, to: {} as never })).rejects.toThrow(/"to" must be a Sender/)
  })
})
