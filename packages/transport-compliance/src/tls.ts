/**
 * The TLS matrix every TLS-capable transport runs (`https://`, `wss://`, `tls://`): certificate
 * verification is on by default, expired, wrong-host, self-signed and wrong-CA server certificates
 * are refused with clear errors, and mutual TLS refuses a missing, foreign or expired client
 * certificate while an accepted one shows in the server session's `peer.identity`.
 *
 * @example
 * // packages/transport-http2/test/tls-matrix.test.ts
 * import tlsMatrix from '@libswarm/transport-compliance/tls'
 * tlsMatrix({
 *   name: 'http2 (https://)',
 *   transport: () => http2(),
 *   url: 'https://127.0.0.1:0/swarm',
 *   listenOptions: (server, clientCa) => ({ tls: { ...server, ca: clientCa, requestCert: !!clientCa } }),
 *   dialOptions: (client) => ({ tls: client }),
 * })
 */
import {
  connect,
  type DialOptions,
  LibswarmError,
  type ListenOptions,
  listen,
  type Session,
  type SessionListener,
  type Transport,
  UnauthorizedError,
} from '@libswarm/core'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Certs, hasOpenssl, makeCerts, type Pair } from './certs.ts'
import type { SkipEntry } from './types.ts'

/** What a client presents: the CA it trusts, and for mutual TLS its certificate and key. */
export interface TlsClientMaterial {
  ca?: string
  cert?: string
  key?: string
}

/** How the matrix reaches a TLS-capable transport. */
export interface TlsMatrixSetup {
  /** Shown in the title, e.g. `http2 (https://)`. */
  name: string
  transport: () => Transport
  /** The URL to listen on, port 0, e.g. `https://127.0.0.1:0/swarm`. */
  url: string
  /** Listen options for this server certificate; `clientCa` set means mutual TLS with that CA. */
  listenOptions(server: Pair, clientCa: string | undefined): Omit<ListenOptions, 'signal'>
  /** Dial options for this client material. */
  dialOptions(client: TlsClientMaterial): Omit<DialOptions, 'signal'>
  /** Cases this transport cannot pass (full names, `group > case`), each with its reason. */
  skip?: readonly SkipEntry[]
}

/** The server certificates a client must refuse, and what its error must say. */
const BAD_SERVERS = [
  { name: 'an expired server certificate', cert: 'expiredServer', ca: 'ca', message: /expired/i },
  {
    name: 'a certificate for another host',
    cert: 'wrongHostServer',
    ca: 'ca',
    message: /altname|host|is not for/i,
  },
  { name: 'a self-signed certificate', cert: 'selfSignedServer', ca: 'ca', message: /self[- ]signed/i },
  {
    name: 'a certificate from a CA the client does not trust',
    cert: 'server',
    ca: 'otherCa',
    message: /unable to verify|not trust|issuer/i,
  },
  {
    name: 'a private CA when none is given (verification is on by default)',
    cert: 'server',
    ca: undefined,
    message: /unable to verify|not trust|issuer/i,
  },
] as const

/** The client certificates a mutual-TLS server must refuse. */
const BAD_CLIENTS = [
  { name: 'no client certificate', client: undefined },
  { name: 'a client certificate from another CA', client: 'clientFromOtherCa' },
  { name: 'an expired client certificate', client: 'expiredClient' },
] as const

/** Registers the matrix (a vitest `describe`) for one transport. */
export default function tlsMatrix(setup: TlsMatrixSetup): void {
  const available = hasOpenssl()
  if (!available && process.env.CI) {
    throw new Error(
      `[transport-compliance] ${setup.name}: the openssl CLI is needed to make test certificates`,
    )
  }
  const skips = new Map<string, string>()
  for (const entry of setup.skip ?? []) for (const test of entry.tests) skips.set(test, entry.reason)
  const known = new Set<string>()
  const test = (group: string, name: string, fn: () => Promise<void>) => {
    const full = `${group} > ${name}`
    known.add(full)
    const reason = skips.get(full)
    if (reason !== undefined) it.skip(`${name} [skipped: ${reason}]`, fn)
    else it(name, fn, 20_000)
  }

  describe.skipIf(!available)(`TLS matrix: ${setup.name}`, () => {
    let certs: Certs
    const cleanups: Array<() => unknown> = []
    beforeAll(() => {
      certs = makeCerts()
    })
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })

    const serve = async (server: Pair, clientCa?: string) => {
      const errors: Error[] = []
      const listener: SessionListener = await listen(setup.url, {
        transports: [setup.transport()],
        listenOptions: setup.listenOptions(server, clientCa),
        onError: (error) => errors.push(error),
      })
      cleanups.push(() => listener.close())
      return { listener, errors }
    }

    const dial = async (listener: SessionListener, client: TlsClientMaterial): Promise<Session> => {
      const session = await connect(listener.url, {
        transports: [setup.transport()],
        dialOptions: setup.dialOptions(client),
        signal: AbortSignal.timeout(5000),
      })
      cleanups.push(() => session.abort('test over'))
      return session
    }

    /** Dials and returns how the client was refused: the dial's error, or the session's end. */
    const refusal = async (listener: SessionListener, client: TlsClientMaterial): Promise<unknown> => {
      let session: Session
      try {
        session = await dial(listener, client)
      } catch (error) {
        return error
      }
      // TLS 1.3 checks the client certificate after the client's side of the handshake is done,
      // so a refusal may arrive on an established-looking connection: it must still end it.
      const tx = session.open<string>()
      return tx.send('should not arrive', { signal: AbortSignal.timeout(5000) }).then(
        () =>
          Promise.race([
            session.closed.then(() => new Error('the session ended')),
            new Promise((resolve) => setTimeout(() => resolve(undefined), 2000)),
          ]),
        (error: unknown) => error,
      )
    }

    describe.each(BAD_SERVERS)('the client refuses $name', ({ name, cert, ca, message }) => {
      test('server certificate', name, async () => {
        const { listener } = await serve(certs[cert])
        const error = await refusal(listener, { ca: ca ? certs[ca] : undefined })
        expect(error, 'the dial succeeded').toBeInstanceOf(LibswarmError)
        expect(error, 'a refused server certificate is an UnauthorizedError').toBeInstanceOf(
          UnauthorizedError,
        )
        expect((error as Error).message).toMatch(message)
        expect((error as Error).message).toMatch(/certificate/i)
      })
    })

    test('server certificate', 'the right CA is accepted and messages flow', async () => {
      const { listener } = await serve(certs.server)
      const accepted = listener.accept({ signal: AbortSignal.timeout(5000) })
      const client = await dial(listener, { ca: certs.ca })
      const server = await accepted
      cleanups.push(() => server.abort('test over'))
      const tx = client.open<string>()
      await tx.send('over TLS', { signal: AbortSignal.timeout(5000) })
      const rx = await server.accept<string>({ signal: AbortSignal.timeout(5000) })
      expect(await rx.receive({ signal: AbortSignal.timeout(5000) })).toBe('over TLS')
    })

    describe.each(BAD_CLIENTS)('mutual TLS refuses $name', ({ name, client }) => {
      test('mutual TLS', `refuses ${name}`, async () => {
        const { listener } = await serve(certs.server, certs.ca)
        let accepted: Session | undefined
        listener.accept({ signal: AbortSignal.timeout(4000) }).then(
          (session) => {
            accepted = session
            session.abort('test over')
          },
          () => {},
        )
        const material = client ? certs[client] : {}
        const error = await refusal(listener, { ca: certs.ca, ...material })
        expect(error, 'the refused client could still send').toBeInstanceOf(Error)
        expect((error as Error).message).toMatch(/certificate|refused/i)
        expect(accepted, 'the server accepted a session from a refused client').toBeUndefined()
      })
    })

    test(
      'mutual TLS',
      'a verified client certificate shows in the server session peer.identity',
      async () => {
        const { listener } = await serve(certs.server, certs.ca)
        const accepted = listener.accept({ signal: AbortSignal.timeout(5000) })
        await dial(listener, { ca: certs.ca, ...certs.client })
        const server = await accepted
        cleanups.push(() => server.abort('test over'))
        const identity = server.peer.identity as
          | {
              subject?: Record<string, unknown>
              issuer?: Record<string, unknown>
              fingerprint256?: string
              serialNumber?: string
              validTo?: string
            }
          | undefined
        expect(identity?.subject?.CN).toBe('worker-1')
        expect(identity?.subject?.O).toBe('swarm')
        expect(identity?.issuer?.CN).toBe('libswarm test CA')
        expect(identity?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
        expect(identity?.serialNumber).toMatch(/^[0-9A-F]+$/i)
        expect(Number.isNaN(Date.parse(identity?.validTo ?? ''))).toBe(false)
      },
    )

    it('every skip entry names a real case and gives a reason', () => {
      for (const entry of setup.skip ?? []) {
        expect(entry.reason.trim(), 'a skip needs a reason').not.toBe('')
        for (const name of entry.tests) expect(known, `unknown case in skip: "${name}"`).toContain(name)
      }
    })
  })
}
