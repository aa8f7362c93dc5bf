import { createServer as createHttp1Server } from 'node:http'
import { createServer, type Http2Server } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import {
  HandshakeError,
  InvalidArgumentError,
  type Link,
  type LinkListener,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { drive, pattern, within, writeAll } from '@libswarm/transport-compliance'
import { type Certs, makeCerts } from '@libswarm/transport-compliance/certs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { http2, http2Handler } from '../src/index.ts'

const transport = http2()
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function listen(url = 'http2://127.0.0.1:0/swarm', options = {}): Promise<LinkListener> {
  const listener = await transport.listen(new URL(url), options)
  cleanups.push(() => listener.close())
  return listener
}

async function next(listener: AsyncIterable<Link>): Promise<Link> {
  const it = listener[Symbol.asyncIterator]()
  const result = await within(it.next(), 5000, 'an incoming link')
  if (result.done) throw new Error('listener ended')
  return result.value
}

async function pair(listener: LinkListener, options = {}) {
  const accepted = next(listener)
  const client = await within(
    transport.dial(listener.url, { signal: AbortSignal.timeout(5000), ...options }),
    5000,
    'dial',
  )
  const server = await accepted
  return { client: drive(client), server: drive(server) }
}

function listenPlain(server: Http2Server | ReturnType<typeof createHttp1Server>): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  )
}

describe('http2 links (h2c)', () => {
  it('carries bytes both ways and closes cleanly after both ends', async () => {
    const listener = await listen()
    expect(listener.url.port).not.toBe('0')
    const { client, server } = await pair(listener)
    client.link.write(new TextEncoder().encode('hello '))
    client.link.writev?.([new TextEncoder().encode('from '), new TextEncoder().encode('the client')])
    server.link.write(new TextEncoder().encode('hello from the server'))
    client.link.end()
    await within(server.ended, 5000, 'server to see end')
    expect(server.received().toString()).toBe('hello from the client')
    server.link.end()
    await within(client.ended, 5000, 'client to see end')
    expect(client.received().toString()).toBe('hello from the server')
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
    expect(await within(server.finished, 5000, 'server close')).toBeUndefined()
    expect(client.link.peer.transport).toBe('http2')
    expect(server.link.peer.address).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('half-close: the server keeps sending after the client ended', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    client.link.end()
    await within(server.ended, 5000, 'server to see end')
    server.link.write(new TextEncoder().encode('late reply'))
    server.link.end()
    await within(client.ended, 5000, 'client to see end')
    expect(client.received().toString()).toBe('late reply')
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
  })

  it('moves 32 MiB each way with bounded buffering (write returns false, then drain)', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    const total = 32 * 1024 * 1024
    let sawBackpressure = false
    const origWrite = client.link.write.bind(client.link)
    client.link.write = (chunk) => {
      const ok = origWrite(chunk)
      if (!ok) sawBackpressure = true
      return ok
    }
    await within(Promise.all([writeAll(client, total), writeAll(server, total)]), 20_000, 'transfer')
    client.link.end()
    server.link.end()
    await within(Promise.all([client.ended, server.ended]), 20_000, 'both ends')
    const expected = Buffer.from(pattern(64 * 1024))
    for (const got of [client.received(), server.received()]) {
      expect(got.length).toBe(total)
      expect(got.subarray(0, expected.length).equals(expected)).toBe(true)
      expect(got.subarray(total - expected.length).equals(expected)).toBe(true)
    }
    expect(sawBackpressure).toBe(true)
  })

  it('pause() stops delivery and resume() restarts it', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    server.link.pause?.()
    client.link.write(new TextEncoder().encode('held'))
    // Absence cannot be awaited: give the byte 100 ms to (wrongly) arrive while paused.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(server.received().length).toBe(0)
    server.link.resume?.()
    await within(
      (async () => {
        while (server.received().length < 4) await new Promise((resolve) => setTimeout(resolve, 5))
      })(),
      5000,
      'data after resume',
    )
    expect(server.received().toString()).toBe('held')
  })

  it('destroy() resets the stream: the peer gets an error, the destroyer a close', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    client.link.destroy()
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
    const error = await within(server.finished, 5000, 'server error')
    expect(error).toBeInstanceOf(Error)
    expect(error?.message).toMatch(/ended abruptly|reset/)
  })

  it('a killed connection errors both sides promptly', async () => {
    const endpoint = http2Handler({ path: '/swarm' })
    const server = createServer()
    endpoint.attach(server)
    const sockets: Socket[] = []
    server.on('connection', (socket: Socket) => sockets.push(socket))
    const port = await listenPlain(server)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const accepted = next(endpoint)
    const client = drive(await transport.dial(new URL(`http2://127.0.0.1:${port}/swarm`)))
    const link = drive(await accepted)
    client.link.write(new Uint8Array([1]))
    expect(sockets.length).toBe(1)
    for (const socket of sockets) socket.destroy()
    const [clientError, serverError] = await within(
      Promise.all([client.finished, link.finished]),
      1000,
      'both sides to fail',
    )
    expect(clientError).toBeInstanceOf(Error)
    expect(serverError).toBeInstanceOf(Error)
    expect(clientError?.message).toContain(`http2://127.0.0.1:${port}/swarm`)
  })
})

describe('http2 errors', () => {
  it('a refused connection is an UnavailableError naming the URL', async () => {
    const server = createServer()
    const port = await listenPlain(server)
    await new Promise((resolve) => server.close(resolve))
    const url = `http2://127.0.0.1:${port}/swarm`
    const error = await transport.dial(new URL(url), { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toContain(url)
    expect(error.message).toMatch(/refused/)
  })

  it('a wrong path is a clear "not a libswarm endpoint" error', async () => {
    const listener = await listen()
    const url = new URL(listener.url)
    url.pathname = '/elsewhere'
    const error = await transport.dial(url, { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/not a libswarm endpoint: it answered HTTP 404/)
    expect(error.message).toContain('/swarm')
  })

  it('an ordinary HTTP/2 server is not mistaken for a libswarm endpoint', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<h1>hello</h1>')
    })
    const port = await listenPlain(server)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const error = await transport
      .dial(new URL(`http2://127.0.0.1:${port}/`), { signal: AbortSignal.timeout(5000) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/not a libswarm endpoint.*HTTP 200 with content-type text\/html/)
  })

  it('an HTTP/1.1 server is a clear handshake error, not a hang', async () => {
    const server = createHttp1Server((_req, res) => res.end('http1'))
    const port = await listenPlain(server)
    cleanups.push(() => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    })
    const error = await transport
      .dial(new URL(`http2://127.0.0.1:${port}/`), { signal: AbortSignal.timeout(5000) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/not an HTTP\/2 libswarm endpoint/)
  })

  it('rejects other URL schemes and missing hosts with InvalidArgumentError', async () => {
    await expect(transport.dial(new URL('tcp://127.0.0.1:1'))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(transport.listen(new URL('ws://127.0.0.1:0/'))).rejects.toThrow(
      /unsupported URL scheme "ws:"/,
    )
  })

  it('an aborted dial rejects with the abort reason', async () => {
    const listener = await listen()
    const controller = new AbortController()
    controller.abort(new Error('changed my mind'))
    await expect(transport.dial(listener.url, { signal: controller.signal })).rejects.toThrow(
      /changed my mind/,
    )
  })
})

describe('bearer tokens and authenticate', () => {
  it('accepts the right token and exposes the identity to the server', async () => {
    const listener = await listen('http2://127.0.0.1:0/swarm', {
      serverToken: (token: string) => (token === 'good' ? { user: 'alice' } : false),
    })
    const { server } = await pair(listener, { token: 'good' })
    expect(server.link.peer.identity).toEqual({ user: 'alice' })
  })

  it('a missing token is refused with 401 and the client says a token is required', async () => {
    const listener = await listen('http2://127.0.0.1:0/swarm', { serverToken: 's3cret' })
    const error = await transport.dial(listener.url, { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/requires a bearer token \(HTTP 401\); pass \{ token \}/)
  })

  it('a wrong token is refused and the client says the token was refused', async () => {
    const listener = await listen('http2://127.0.0.1:0/swarm', { serverToken: 's3cret' })
    const error = await transport
      .dial(listener.url, { token: 'wrong', signal: AbortSignal.timeout(5000) })
      .catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/refused the bearer token \(HTTP 401\)/)
  })

  it('an authenticate hook that says no gives 403 and an UnauthorizedError', async () => {
    const listener = await listen('http2://127.0.0.1:0/swarm', { authenticate: () => false })
    const error = await transport.dial(listener.url, { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/HTTP 403/)
  })
})

describe('mounted on an existing node:http2 server', () => {
  it('shares the server with other routes (stream API)', async () => {
    const endpoint = http2Handler({ path: '/swarm', token: 'tok' })
    const server = createServer()
    server.on('stream', (stream, headers) => {
      if (endpoint.handleStream(stream, headers)) return
      stream.respond({ ':status': 200, 'content-type': 'text/plain' })
      stream.end('the app')
    })
    const port = await listenPlain(server)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    cleanups.push(() => endpoint.close())
    const accepted = next(endpoint)
    const client = drive(await transport.dial(new URL(`http2://127.0.0.1:${port}/swarm`), { token: 'tok' }))
    const link = drive(await accepted)
    client.link.write(new TextEncoder().encode('ping'))
    client.link.end()
    await within(link.ended, 5000, 'end')
    expect(link.received().toString()).toBe('ping')
    link.link.end()
    expect(await within(client.finished, 5000, 'close')).toBeUndefined()
    // The app's own route still answers.
    const error = await transport.dial(new URL(`http2://127.0.0.1:${port}/other`)).catch((e) => e)
    expect(error.message).toMatch(/HTTP 200 with content-type text\/plain/)
  })

  it('works with the compatibility API (handleRequest)', async () => {
    const endpoint = http2Handler({ path: '/swarm' })
    const server = createServer((req, res) => {
      if (endpoint.handleRequest(req, res)) return
      res.writeHead(404)
      res.end()
    })
    const port = await listenPlain(server)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    cleanups.push(() => endpoint.close())
    const accepted = next(endpoint)
    const client = drive(await transport.dial(new URL(`http2://127.0.0.1:${port}/swarm`)))
    const link = drive(await accepted)
    await writeAll(client, 4 * 1024 * 1024)
    client.link.end()
    await within(link.ended, 10_000, 'end')
    expect(link.received().length).toBe(4 * 1024 * 1024)
    link.link.write(new TextEncoder().encode('ok'))
    link.link.end()
    await within(client.ended, 5000, 'client end')
    expect(client.received().toString()).toBe('ok')
  })

  it('attach() wires the stream event; a closed endpoint answers 503', async () => {
    const endpoint = http2Handler({ path: '/swarm' })
    const server = createServer()
    const detach = endpoint.attach(server)
    const port = await listenPlain(server)
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    await endpoint.close()
    const error = await transport.dial(new URL(`http2://127.0.0.1:${port}/swarm`)).catch((e) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toMatch(/HTTP 503/)
    detach()
    expect(server.listenerCount('stream')).toBe(0)
  })

  it('rejects a path without a leading slash', () => {
    expect(() => http2Handler({ path: 'swarm' })).toThrow(InvalidArgumentError)
  })
})

describe('https (h2 over TLS)', () => {
  let certs: Certs
  beforeAll(() => {
    certs = makeCerts()
  })

  it('works with the CA given, and refuses an unknown certificate by default', async () => {
    const listener = await listen('https://127.0.0.1:0/swarm', {
      tls: { cert: certs.server.cert, key: certs.server.key },
    })
    expect(listener.url.protocol).toBe('https:')
    const error = await transport.dial(listener.url, { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.retryable).toBe(false)
    expect(error.message).toMatch(
      /refused the server at .*: its certificate is signed by a CA this client does not trust; give that CA in option "tls\.ca"/,
    )

    const { client, server } = await pair(listener, { tls: { ca: certs.ca } })
    client.link.write(new TextEncoder().encode('secure'))
    client.link.end()
    await within(server.ended, 5000, 'end')
    expect(server.received().toString()).toBe('secure')
  })

  it('listening on https without a certificate is a clear error', async () => {
    await expect(transport.listen(new URL('https://127.0.0.1:0/'))).rejects.toThrow(
      /needs tls\.cert and tls\.key/,
    )
  })
})
