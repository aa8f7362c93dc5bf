import { createServer } from 'node:net'
import { InvalidArgumentError, UnavailableError } from '@libswarm/core'
import { accept, record } from '@libswarm/transport-compliance'
import { afterEach, describe, expect, it } from 'vitest'
import { tcp } from '../src/index.ts'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function pair() {
  const transport = tcp()
  const listener = await transport.listen(new URL('tcp://127.0.0.1:0'))
  cleanups.push(() => listener.close())
  const dialed = await transport.dial(listener.url, { signal: AbortSignal.timeout(5000) })
  const accepted = await accept(listener)
  const client = record(dialed)
  const server = record(accepted)
  cleanups.push(() => {
    dialed.destroy()
    accepted.destroy()
  })
  return { listener, client, server }
}

/** The net.Socket under a dialed link (for white-box checks only). */
function findSocket(link: object): import('node:net').Socket {
  const socket = (link as { socket?: import('node:net').Socket }).socket
  if (!socket) throw new Error('link does not expose its socket')
  return socket
}

describe('tcp transport', () => {
  it('listens on port 0 and reports the real port in listener.url', async () => {
    const listener = await tcp().listen(new URL('tcp://127.0.0.1:0'))
    cleanups.push(() => listener.close())
    expect(listener.url.protocol).toBe('tcp:')
    expect(Number(listener.url.port)).toBeGreaterThan(0)
    expect(listener.url.hostname).toBe('127.0.0.1')
  })

  it('carries bytes both ways and reports the peer', async () => {
    const { client, server } = await pair()
    expect(client.link.peer.transport).toBe('tcp')
    expect(client.link.peer.address).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(client.link.canPassFds).toBe(false)
    client.link.write(new TextEncoder().encode('hello '))
    client.link.writev!([new TextEncoder().encode('from '), new TextEncoder().encode('client')])
    expect((await server.waitBytes(17)).toString()).toBe('hello from client')
    server.link.write(new TextEncoder().encode('pong'))
    expect((await client.waitBytes(4)).toString()).toBe('pong')
  })

  it('coalesces many small writes made in one turn into one socket write', async () => {
    const { client, server } = await pair()
    // Count the writes that reach the socket's handle: corked writes leave through one _writev.
    const socket = findSocket(client.link)
    let handleWrites = 0
    const proto = socket as unknown as Record<string, (...args: unknown[]) => unknown>
    for (const name of ['_write', '_writev'] as const) {
      const original = proto[name]!.bind(socket)
      proto[name] = (...args: unknown[]) => {
        handleWrites++
        return original(...args)
      }
    }
    const n = 2000
    for (let i = 0; i < n; i++) client.link.write(Uint8Array.of(i & 0xff))
    const all = await server.waitBytes(n)
    expect(all.length).toBe(n)
    for (let i = 0; i < n; i++) expect(all[i]).toBe(i & 0xff)
    expect(handleWrites).toBeLessThanOrEqual(2)
  })

  it('end() half-closes: the peer sees end, can still answer, then both close', async () => {
    const { client, server } = await pair()
    client.link.write(new TextEncoder().encode('last words'))
    client.link.end()
    await server.ended()
    expect(server.bytes().toString()).toBe('last words')
    server.link.write(new TextEncoder().encode('reply'))
    server.link.end()
    expect((await client.waitBytes(5)).toString()).toBe('reply')
    await client.ended()
    expect((await client.finished()).kind).toBe('close')
    expect((await server.finished()).kind).toBe('close')
  })

  it('destroy() closes the local side at once and the peer sees the link go away', async () => {
    const { client, server } = await pair()
    client.link.destroy()
    expect((await client.finished()).kind).toBe('close')
    // The peer sees its input end (links are half-open capable); ending its side closes it.
    await server.ended()
    server.link.end()
    expect(['close', 'error']).toContain((await server.finished()).kind)
  })

  it('a refused dial is an UnavailableError naming the address', async () => {
    // Find a port nobody listens on: bind, read it, close.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise<void>((r) => probe.close(() => r()))
    const error = await tcp()
      .dial(new URL(`tcp://127.0.0.1:${port}`))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toContain(`tcp://127.0.0.1:${port}`)
    expect((error as Error).message).toContain('connection refused')
  })

  it.each([
    ['tcp://127.0.0.1', 'no port'],
    ['tcp:///5000', 'no host'],
    ['http://127.0.0.1:5000', 'expected tcp://'],
    ['tcp://127.0.0.1:5000/path', 'must not have a path'],
  ])('rejects the bad URL %s with InvalidArgumentError (%s)', async (url, message) => {
    const error = await tcp()
      .dial(new URL(url))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidArgumentError)
    expect((error as Error).message).toContain(message)
  })

  it('rejects a bad option with InvalidArgumentError', async () => {
    const error = await tcp({ connectTimeout: -1 })
      .dial(new URL('tcp://127.0.0.1:1'))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidArgumentError)
  })

  it('an already-aborted signal rejects the dial without connecting', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    const error = await tcp()
      .dial(new URL('tcp://127.0.0.1:1'), { signal: controller.signal })
      .catch((e: unknown) => e)
    expect((error as Error).name).toBe('AbortError')
  })

  it('listening on a port in use is an UnavailableError that says so', async () => {
    const listener = await tcp().listen(new URL('tcp://127.0.0.1:0'))
    cleanups.push(() => listener.close())
    const error = await tcp()
      .listen(listener.url)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toContain('already in use')
  })

  it('authenticate() returning false refuses the link', async () => {
    const transport = tcp()
    const listener = await transport.listen(new URL('tcp://127.0.0.1:0'), {
      authenticate: (peer) => {
        expect(peer.transport).toBe('tcp')
        return false
      },
    })
    cleanups.push(() => listener.close())
    const client = record(await transport.dial(listener.url))
    await client.ended()
    client.link.end()
    expect((await client.finished()).kind).toBe('close')
    expect(client.bytes().length).toBe(0)
  })

  it('close() ends iteration over the listener; accepted links stay open', async () => {
    const { listener, client, server } = await pair()
    const it = listener[Symbol.asyncIterator]()
    const pending = it.next()
    await listener.close()
    expect((await pending).done).toBe(true)
    client.link.write(Uint8Array.of(1, 2, 3))
    expect((await server.waitBytes(3)).length).toBe(3)
  })

  it('a signal closes the listener', async () => {
    const controller = new AbortController()
    const listener = await tcp().listen(new URL('tcp://127.0.0.1:0'), { signal: controller.signal })
    controller.abort()
    const next = await listener[Symbol.asyncIterator]().next()
    expect(next.done).toBe(true)
    await expect(tcp().dial(listener.url)).rejects.toBeInstanceOf(UnavailableError)
  })
})
