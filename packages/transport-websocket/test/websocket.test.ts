import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  HandshakeError,
  InvalidArgumentError,
  type Link,
  type LinkListener,
  ProtocolError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { drive, pattern, within, writeAll } from '@libswarm/transport-compliance'
import { type Certs, makeCerts } from '@libswarm/transport-compliance/certs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { websocket as browserWebsocket } from '../src/browser.ts'
import { dialBrowserWebSocket, type WebSocketConstructor, websocket, websocketHandler } from '../src/index.ts'

const transport = websocket()
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function listen(url = 'ws://127.0.0.1:0/swarm', options = {}): Promise<LinkListener> {
  const listener = await transport.listen(new URL(url), options)
  cleanups.push(() => listener.close())
  return listener
}

async function next(listener: AsyncIterable<Link>): Promise<Link> {
  const result = await within(listener[Symbol.asyncIterator]().next(), 5000, 'an incoming link')
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
  return { client: drive(client), server: drive(await accepted) }
}

function httpServer(handler?: RequestListener): Promise<{ server: Server; port: number }> {
  const server = handler ? createServer(handler) : createServer()
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  cleanups.push(() => {
    for (const s of sockets) s.destroy()
    return new Promise((resolve) => server.close(() => resolve()))
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })),
  )
}

const text = (s: string) => new TextEncoder().encode(s)

describe('websocket links', () => {
  it('carries bytes both ways and closes cleanly after both ends', async () => {
    const listener = await listen()
    expect(listener.url.port).not.toBe('0')
    const { client, server } = await pair(listener)
    client.link.write(text('hello '))
    client.link.writev?.([text('from '), text('the client')])
    server.link.write(text('hello from the server'))
    client.link.end()
    await within(server.ended, 5000, 'server to see end')
    expect(server.received().toString()).toBe('hello from the client')
    server.link.end()
    await within(client.ended, 5000, 'client to see end')
    expect(client.received().toString()).toBe('hello from the server')
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
    expect(await within(server.finished, 5000, 'server close')).toBeUndefined()
    expect(server.link.peer).toMatchObject({
      transport: 'websocket',
      address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    })
  })

  it('half-close: the server keeps sending after the client ended', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    client.link.end()
    await within(server.ended, 5000, 'server to see end')
    server.link.write(text('late reply'))
    server.link.end()
    await within(client.ended, 5000, 'client to see end')
    expect(client.received().toString()).toBe('late reply')
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
  })

  it('moves 32 MiB each way; write returns false under backpressure and drain follows', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    const total = 32 * 1024 * 1024
    let sawBackpressure = false
    const write = client.link.write.bind(client.link)
    client.link.write = (chunk) => {
      const ok = write(chunk)
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
      expect(got.subarray(total - expected.length).equals(expected)).toBe(true)
    }
    expect(sawBackpressure).toBe(true)
  })

  it('coalesces many small writes into few messages', async () => {
    const endpoint = websocketHandler({ path: '/swarm' })
    const { server, port } = await httpServer()
    endpoint.attach(server)
    cleanups.push(() => endpoint.close())
    const raw = new WebSocket(`ws://127.0.0.1:${port}/swarm`, ['libswarm'])
    let messages = 0
    let bytes = 0
    raw.on('message', (data: Buffer) => {
      messages++
      bytes += data.length
    })
    const link = drive(await next(endpoint))
    for (let i = 0; i < 1000; i++) link.link.write(text('0123456789'))
    await within(
      (async () => {
        while (bytes < 10_000) await new Promise((resolve) => setTimeout(resolve, 5))
      })(),
      5000,
      'all bytes',
    )
    expect(messages).toBeLessThan(5)
    raw.terminate()
  })

  it('destroy() resets: the peer gets an error, the destroyer a close', async () => {
    const listener = await listen()
    const { client, server } = await pair(listener)
    client.link.destroy(new Error('giving up'))
    expect(await within(client.finished, 5000, 'client close')).toBeUndefined()
    const error = await within(server.finished, 5000, 'server error')
    expect(error?.message).toMatch(/the peer reset the link \(giving up\)/)
  })

  it('a killed connection errors both sides within a second', async () => {
    const endpoint = websocketHandler({ path: '/swarm' })
    const sockets: Socket[] = []
    const { server, port } = await httpServer()
    server.on('connection', (s: Socket) => sockets.push(s))
    endpoint.attach(server)
    cleanups.push(() => endpoint.close())
    const accepted = next(endpoint)
    const client = drive(await transport.dial(new URL(`ws://127.0.0.1:${port}/swarm`)))
    const link = drive(await accepted)
    for (const s of sockets) s.destroy()
    const [a, b] = await within(Promise.all([client.finished, link.finished]), 1000, 'both sides to fail')
    expect(a?.message).toMatch(/ended abruptly: the connection was lost/)
    expect(a?.message).toContain(`ws://127.0.0.1:${port}/swarm`)
    expect(b).toBeInstanceOf(Error)
  })

  it('a text message that is not the end marker is a protocol error', async () => {
    const endpoint = websocketHandler({ path: '/swarm' })
    const { server, port } = await httpServer()
    endpoint.attach(server)
    cleanups.push(() => endpoint.close())
    const raw = new WebSocket(`ws://127.0.0.1:${port}/swarm`, ['libswarm'])
    await new Promise((resolve) => raw.once('open', resolve))
    const link = drive(await next(endpoint))
    raw.send('hello?')
    const error = await within(link.finished, 5000, 'protocol error')
    expect(error).toBeInstanceOf(ProtocolError)
    expect(error?.message).toMatch(/binary messages only/)
  })
})

describe('websocket errors', () => {
  it('a refused connection is an UnavailableError naming the URL', async () => {
    const { server, port } = await httpServer()
    await new Promise((resolve) => server.close(resolve))
    const url = `ws://127.0.0.1:${port}/swarm`
    const error = await transport.dial(new URL(url), { signal: AbortSignal.timeout(5000) }).catch((e) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toContain(url)
    expect(error.message).toMatch(/connection refused/)
  })

  it('an ordinary web server is "not a libswarm WebSocket endpoint"', async () => {
    const { port } = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<h1>hi</h1>')
    })
    const error = await transport.dial(new URL(`ws://127.0.0.1:${port}/`)).catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/is not a libswarm WebSocket endpoint: it answered HTTP 200/)
  })

  it('a wrong path gets 404 and a clear error', async () => {
    const listener = await listen()
    const url = new URL(listener.url)
    url.pathname = '/nope'
    const error = await transport.dial(url).catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/HTTP 404.*the libswarm endpoint is \/swarm/)
  })

  it('a WebSocket server that does not speak libswarm is refused', async () => {
    const { server, port } = await httpServer()
    const wss = new WebSocketServer({ server, handleProtocols: () => false })
    cleanups.push(() => new Promise((resolve) => wss.close(() => resolve())))
    const error = await transport.dial(new URL(`ws://127.0.0.1:${port}/`)).catch((e) => e)
    expect(error).toBeInstanceOf(HandshakeError)
    expect(error.message).toMatch(/not a libswarm WebSocket endpoint/)
  })

  it('a plain HTTP GET to the listener explains what it is', async () => {
    const listener = await listen()
    const res = await fetch(`http://127.0.0.1:${listener.url.port}/swarm`, {
      signal: AbortSignal.timeout(5000),
    })
    expect(res.status).toBe(426)
    expect(await res.text()).toMatch(/libswarm WebSocket endpoint/)
  })

  it('rejects other schemes', async () => {
    await expect(transport.dial(new URL('http2://127.0.0.1:1/'))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(transport.listen(new URL('tcp://127.0.0.1:0'))).rejects.toThrow(
      /unsupported URL scheme "tcp:"/,
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
  it('accepts the right token (header) and exposes the identity', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', {
      serverToken: (token: string) => (token === 'good' ? { user: 'alice' } : false),
    })
    const { server } = await pair(listener, { token: 'good' })
    expect(server.link.peer.identity).toEqual({ user: 'alice' })
  })

  it('a missing token: 401, and the client says a token is required', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', { serverToken: 's3cret' })
    const error = await transport.dial(listener.url).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/requires a bearer token \(HTTP 401\); pass \{ token \}/)
  })

  it('a wrong token: the client says the token was refused', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', { serverToken: 's3cret' })
    const error = await transport.dial(listener.url, { token: 'nope' }).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/refused the bearer token \(HTTP 401\)/)
  })

  it('an authenticate hook that says no: 403', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', { authenticate: async () => false })
    const error = await transport.dial(listener.url).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.message).toMatch(/HTTP 403/)
  })
})

describe('attached to an existing HTTP/1.1 server', () => {
  it('serves its path while the app keeps its routes and other upgrades', async () => {
    const endpoint = websocketHandler({ path: '/swarm', token: 'tok' })
    const { server, port } = await httpServer((_req, res) => res.end('the app'))
    const other = new WebSocketServer({ noServer: true })
    server.on('upgrade', (req, socket, head) => {
      if (endpoint.handleUpgrade(req, socket, head)) return
      other.handleUpgrade(req, socket, head, (ws) => ws.send('other'))
    })
    cleanups.push(() => endpoint.close())
    const accepted = next(endpoint)
    const client = drive(await transport.dial(new URL(`ws://127.0.0.1:${port}/swarm`), { token: 'tok' }))
    const link = drive(await accepted)
    client.link.write(text('ping'))
    client.link.end()
    await within(link.ended, 5000, 'end')
    expect(link.received().toString()).toBe('ping')
    link.link.end()
    expect(await within(client.finished, 5000, 'close')).toBeUndefined()
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('the app')
    const raw = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`)
    const msg = await within(
      new Promise((resolve) => raw.once('message', (d) => resolve(String(d)))),
      5000,
      'other',
    )
    expect(msg).toBe('other')
    raw.close()
  })

  it('a closed endpoint answers 503; detach removes the listener', async () => {
    const endpoint = websocketHandler({ path: '/swarm' })
    const { server, port } = await httpServer()
    const detach = endpoint.attach(server)
    await endpoint.close()
    const error = await transport.dial(new URL(`ws://127.0.0.1:${port}/swarm`)).catch((e) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toMatch(/HTTP 503/)
    detach()
    expect(server.listenerCount('upgrade')).toBe(0)
  })
})

describe('wss', () => {
  let certs: Certs
  beforeAll(() => {
    certs = makeCerts()
  })

  it('works with the CA given and refuses an unknown certificate by default', async () => {
    const listener = await listen('wss://127.0.0.1:0/swarm', {
      tls: { cert: certs.server.cert, key: certs.server.key },
    })
    const error = await transport.dial(listener.url).catch((e) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error.retryable).toBe(false)
    expect(error.message).toMatch(
      /refused the server at .*: its certificate is signed by a CA this client does not trust; give that CA in option "tls\.ca"/,
    )
    const { client, server } = await pair(listener, { tls: { ca: certs.ca } })
    client.link.write(text('secure'))
    client.link.end()
    await within(server.ended, 5000, 'end')
    expect(server.received().toString()).toBe('secure')
  })
})

describe('the browser client', () => {
  // `ws` implements the browser's WebSocket API (addEventListener, binaryType, bufferedAmount), so it
  // stands in for the global WebSocket here.
  const BrowserLike = WebSocket as unknown as WebSocketConstructor

  it('dials with a browser-style WebSocket, sending the token as access_token', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', { serverToken: 'tok' })
    const accepted = next(listener)
    const client = drive(await dialBrowserWebSocket(listener.url, { WebSocket: BrowserLike, token: 'tok' }))
    const server = drive(await accepted)
    await within(Promise.all([writeAll(client, 4 << 20), writeAll(server, 4 << 20)]), 10_000, 'transfer')
    client.link.end()
    server.link.end()
    await within(Promise.all([client.finished, server.finished]), 5000, 'close')
    expect(client.received().length).toBe(4 << 20)
    expect(server.received().length).toBe(4 << 20)
  })

  it('the browser entry dials through the global WebSocket and cannot listen', async () => {
    const listener = await listen()
    const g = globalThis as { WebSocket?: unknown }
    const saved = g.WebSocket
    g.WebSocket = WebSocket
    try {
      const accepted = next(listener)
      const link = drive(await browserWebsocket().dial(listener.url))
      drive(await accepted)
      link.link.destroy()
    } finally {
      g.WebSocket = saved
    }
    await expect(browserWebsocket().listen(new URL('ws://127.0.0.1:0/'))).rejects.toThrow(
      /browser cannot listen/,
    )
  })

  it('a failed browser dial lists the possible causes', async () => {
    const listener = await listen('ws://127.0.0.1:0/swarm', { serverToken: 'tok' })
    const error = await dialBrowserWebSocket(listener.url, { WebSocket: BrowserLike }).catch((e) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toMatch(/token was refused/)
  })

  it('no Node-only import is reachable from the browser entry', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url))
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const code = readFileSync(join(src, file), 'utf8')
      for (const [, kind, spec] of code.matchAll(/^\s*(import|export)(?!\s+type)[^'"]*from\s+'([^']+)'/gm)) {
        void kind
        if (spec!.startsWith('./')) visit(join(file, '..', spec!))
        else expect(spec, `${file} imports ${spec}`).toBe('@libswarm/core')
      }
    }
    visit('browser.ts')
    expect(seen.size).toBeGreaterThan(2)
    expect([...seen]).not.toContain('transport.ts')
    expect(readdirSync(src)).toContain('browser.ts')
  })
})
