import { createServer } from 'node:net'
import {
  connect,
  InvalidArgumentError,
  type LibswarmError,
  type Link,
  listen,
  type PeerInfo,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { accept, record } from '@libswarm/transport-compliance'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type TlsIdentity, type TlsOptions, tls } from '../src/index.ts'
import { type Certs, hasOpenssl, makeCerts } from './certs.ts'

const available = hasOpenssl()
if (!available && process.env.CI)
  throw new Error('[transport-tls] the openssl CLI is needed to make test certificates')

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

let certs: Certs
beforeAll(() => {
  if (available) certs = makeCerts()
})

async function server(options: TlsOptions) {
  const refusals: Array<{ error: LibswarmError; peer: PeerInfo }> = []
  let notify: () => void = () => {}
  const refused = new Promise<void>((resolve) => (notify = resolve))
  const listener = await tls({
    ...options,
    onRefused: (error, peer) => {
      refusals.push({ error, peer })
      notify()
    },
  }).listen(new URL('tls://127.0.0.1:0'))
  cleanups.push(() => listener.close())
  const waitRefused = async (ms = 5000) => {
    await Promise.race([
      refused,
      new Promise((_, reject) => setTimeout(() => reject(new Error('server saw no refusal')), ms).unref()),
    ])
    return refusals[0]!.error
  }
  return { listener, waitRefused }
}

/** Dials and reports how the client ended up refused: either the dial or the link's first event. */
async function refusal(
  url: URL,
  options: TlsOptions,
  dialHost?: string,
  beforeStart?: () => Promise<unknown>,
): Promise<Error> {
  const target = dialHost ? new URL(`tls://${dialHost}:${url.port}`) : url
  let link: Link
  try {
    link = await tls(options).dial(target, { signal: AbortSignal.timeout(5000) })
  } catch (error) {
    return error as Error
  }
  cleanups.push(() => link.destroy())
  await beforeStart?.()
  // TLS 1.3: the server checks the client certificate after the client's handshake completed, so
  // the refusal arrives as an alert on the link.
  const seen = await record(link).finished()
  if (seen.kind !== 'error') throw new Error('expected the link to fail, it closed cleanly')
  return seen.error!
}

describe.skipIf(!available)('tls transport', () => {
  it('server-auth: the client verifies the server and bytes flow both ways', async () => {
    const { listener } = await server({ ...certs.server })
    expect(Number(listener.url.port)).toBeGreaterThan(0)
    const client = record(await tls({ ca: certs.ca }).dial(listener.url))
    const srv = record(await accept(listener))
    cleanups.push(() => {
      client.link.destroy()
      srv.link.destroy()
    })
    expect(srv.link.peer.transport).toBe('tls')
    expect(srv.link.peer.identity).toBeUndefined()
    client.link.write(new TextEncoder().encode('hello over tls'))
    expect((await srv.waitBytes(14)).toString()).toBe('hello over tls')
    srv.link.write(new TextEncoder().encode('ok'))
    expect((await client.waitBytes(2)).toString()).toBe('ok')
  })

  it('dials by host name with the name checked against the certificate', async () => {
    const { listener } = await server({ ...certs.server })
    const link = await tls({ ca: certs.ca }).dial(new URL(`tls://localhost:${listener.url.port}`))
    link.destroy()
  })

  it('mutual TLS: peer.identity carries the verified client certificate subject', async () => {
    const { listener } = await server({ ...certs.server, ca: certs.ca, requireClientCert: true })
    const client = record(await tls({ ca: certs.ca, ...certs.client }).dial(listener.url))
    const srv = record(await accept(listener))
    cleanups.push(() => {
      client.link.destroy()
      srv.link.destroy()
    })
    const identity = srv.link.peer.identity as TlsIdentity
    expect(identity.subject.CN).toBe('worker-1')
    expect(identity.subject.O).toBe('swarm')
    expect(identity.issuer.CN).toBe('libswarm test CA')
    expect(identity.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    client.link.write(Uint8Array.of(1, 2, 3))
    expect((await srv.waitBytes(3)).length).toBe(3)
  })

  describe.each([
    {
      name: 'no client certificate',
      client: {},
      server: /sent no client certificate/,
      dialer: /requires a client certificate/,
    },
    {
      name: 'a client certificate from another CA',
      client: 'clientFromOtherCa',
      server: /not signed by a CA in this listener's "ca"/,
      dialer: /refused this client's certificate/,
    },
    {
      name: 'an expired client certificate',
      client: 'expiredClient',
      server: /expired/,
      dialer: /refused this client's certificate/,
    },
  ])('mutual TLS refuses $name on both sides', ({ client, server: serverMessage, dialer }) => {
    it('with UnauthorizedError', async () => {
      const { listener, waitRefused } = await server({
        ...certs.server,
        ca: certs.ca,
        requireClientCert: true,
      })
      const clientOptions = typeof client === 'string' ? certs[client as 'client'] : client
      const error = await refusal(listener.url, { ca: certs.ca, ...clientOptions })
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect(error.message).toMatch(dialer)
      const serverError = await waitRefused()
      expect(serverError).toBeInstanceOf(UnauthorizedError)
      expect(serverError.message).toMatch(serverMessage)
    })

    it('also when the client link starts only after the server hung up', async () => {
      const { listener, waitRefused } = await server({
        ...certs.server,
        ca: certs.ca,
        requireClientCert: true,
      })
      const clientOptions = typeof client === 'string' ? certs[client as 'client'] : client
      // The server's close reaches the client before anything listens on the link (a busy event
      // loop between the dial and the session's start); it must not be lost.
      const error = await refusal(listener.url, { ca: certs.ca, ...clientOptions }, undefined, async () => {
        await waitRefused()
        await new Promise((resolve) => setTimeout(resolve, 200))
      })
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect(error.message).toMatch(dialer)
    })
  })

  describe.each([
    { name: 'an expired server certificate', cert: 'expiredServer', ca: 'ca', message: /has expired/ },
    {
      name: 'a certificate for another host',
      cert: 'wrongHostServer',
      ca: 'ca',
      message: /is not for "127.0.0.1"/,
    },
    { name: 'a self-signed certificate', cert: 'selfSignedServer', ca: 'ca', message: /self-signed/ },
    {
      name: 'a certificate from a CA the client does not trust',
      cert: 'server',
      ca: 'otherCa',
      message: /does not trust/,
    },
    {
      name: 'no CA given (only public CAs trusted)',
      cert: 'server',
      ca: undefined,
      message: /does not trust/,
    },
  ])('the client refuses $name', ({ cert, ca, message }) => {
    it('with UnauthorizedError and says what to do', async () => {
      const { listener } = await server({ ...certs[cert as 'server'] })
      const error = await refusal(listener.url, { ca: ca ? certs[ca as 'ca'] : undefined })
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect(error.message).toMatch(message)
      expect(error.message).toContain(listener.url.host)
    })
  })

  it('rejectUnauthorized: false accepts a self-signed server (explicit opt-out)', async () => {
    const { listener } = await server({ ...certs.selfSignedServer })
    const link = await tls({ rejectUnauthorized: false }).dial(listener.url)
    link.destroy()
  })

  it('a server that does not speak TLS is a clear error', async () => {
    const plain = createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
    cleanups.push(() => void plain.close())
    const port = (plain.address() as { port: number }).port
    const error = await refusal(new URL(`tls://127.0.0.1:${port}`), { ca: certs.ca })
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error.message).toMatch(/does not speak TLS|cannot connect|failed/)
  })

  it('listening needs cert and key; requireClientCert needs ca', async () => {
    await expect(tls().listen(new URL('tls://127.0.0.1:0'))).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(
      tls({ ...certs.server, requireClientCert: true }).listen(new URL('tls://127.0.0.1:0')),
    ).rejects.toThrow(/needs option "ca"/)
    await expect(
      tls({ cert: 'not a pem', key: 'nope' }).listen(new URL('tls://127.0.0.1:0')),
    ).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('a refused dial is an UnavailableError naming the address', async () => {
    const { listener } = await server({ ...certs.server })
    const url = listener.url
    await listener.close()
    const error = await tls({ ca: certs.ca })
      .dial(url)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toContain(`tls://${url.host}`)
  })

  it('carries a whole session: connect() and listen() with mutual TLS', async () => {
    const sessions = await listen('tls://127.0.0.1:0', {
      transports: [tls({ ...certs.server, ca: certs.ca, requireClientCert: true })],
    })
    cleanups.push(() => sessions.close())
    const [client, srv] = await Promise.all([
      connect(sessions.url, {
        transports: [tls({ ca: certs.ca, ...certs.client })],
        signal: AbortSignal.timeout(5000),
      }),
      sessions.accept({ signal: AbortSignal.timeout(5000) }),
    ])
    cleanups.push(() => {
      client.abort()
      srv.abort()
    })
    expect((srv.peer.identity as TlsIdentity).subject.CN).toBe('worker-1')
    const tx = client.open<{ hello: string }>()
    const rx = await srv.accept<{ hello: string }>({ signal: AbortSignal.timeout(5000) })
    await tx.send({ hello: 'world' })
    expect(await rx.receive({ signal: AbortSignal.timeout(5000) })).toEqual({ hello: 'world' })
  })
})
