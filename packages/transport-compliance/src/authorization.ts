/**
 * Per-session authorization, end to end over a real transport: a Server behind `listen(url)` sees
 * who is calling in `context.peer` (as the transport authenticated it: a client certificate, a
 * bearer token, a unix peer's uid), and `authorize()` refuses a verb to a caller the policy does
 * not allow, while an allowed caller gets through.
 *
 * @example
 * // packages/transport-http2/test/authorization.test.ts
 * import authorization from '@libswarm/transport-compliance/authorization'
 * authorization({
 *   name: 'http2 bearer token',
 *   transport: () => http2(),
 *   url: () => 'http2://127.0.0.1:0/swarm',
 *   listenOptions: { serverToken: (token) => (token === 'admin' ? { user: 'admin' } : token === 'reader' ? { user: 'reader' } : false) },
 *   admin: { token: 'admin' },
 *   other: { token: 'reader' },
 *   isAdmin: (peer) => (peer?.identity as { user?: string } | undefined)?.user === 'admin',
 * })
 */
import {
  authorize,
  Client,
  connect,
  type DialOptions,
  type ListenOptions,
  listen,
  type PeerInfo,
  reference,
  Server,
  type Service,
  type Session,
  type Transport,
  UnauthorizedError,
} from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'

/** How the suite reaches a transport that authenticates its peers. */
export interface AuthorizationSetup {
  /** Shown in the title, e.g. `tls client certificates`. */
  name: string
  transport: () => Transport
  /** A fresh URL to listen on. */
  url: () => string
  /** Listen options that make the transport authenticate peers (CA, token check, ...). */
  listenOptions?: Omit<ListenOptions, 'signal'>
  /** Dial options of a caller the policy allows to Stop. */
  admin: Omit<DialOptions, 'signal'>
  /**
   * Dial options of a caller the transport accepts but the policy does not allow to Stop. Leave it
   * out, with `otherMissing` saying why, when this process can only be one caller (unix sockets).
   */
  other?: Omit<DialOptions, 'signal'>
  /** Why there is no `other` caller; its case is then skipped with this reason. */
  otherMissing?: string
  /** The policy: may this peer Stop? Reads what the transport put in `peer.identity`. */
  isAdmin(peer: PeerInfo | undefined): boolean
  /** Checks the identity the handler saw for the admin caller. */
  expectAdminIdentity?(identity: unknown): void
}

/** Registers the suite (a vitest `describe`). */
export default function authorization(setup: AuthorizationSetup): void {
  describe(`per-session authorization: ${setup.name}`, () => {
    const cleanups: Array<() => unknown> = []
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })

    /** Serves `service` to every session: the server sends each one a reference to it. */
    const serve = async (service: Service) => {
      const listener = await listen(setup.url(), {
        transports: [setup.transport()],
        listenOptions: setup.listenOptions,
      })
      const sessions: Session[] = []
      void (async () => {
        for await (const session of listener) {
          sessions.push(session)
          const carrier = session.open<Service>()
          carrier.send(reference(service)).catch(() => {})
        }
      })().catch(() => {})
      cleanups.push(async () => {
        for (const session of sessions) session.abort('test over')
        await listener.close()
      })
      return listener.url
    }

    const call = async (url: URL, options: Omit<DialOptions, 'signal'>): Promise<Client> => {
      const session = await connect(url, {
        transports: [setup.transport()],
        dialOptions: options,
        signal: AbortSignal.timeout(5000),
      })
      cleanups.push(() => session.abort('test over'))
      const carrier = await session.accept<Service>({ signal: AbortSignal.timeout(5000) })
      const service = await carrier.receive({ signal: AbortSignal.timeout(5000) })
      return new Client(service, { timeout: 5000 })
    }

    const guarded = () => {
      const seen: Array<PeerInfo | undefined> = []
      const server = new Server({
        onGet: (_args, context) => {
          seen.push(context.peer)
          return { transport: context.peer?.transport, identity: context.peer?.identity ?? null }
        },
        onStop: (_args, context) => {
          seen.push(context.peer)
        },
      })
      const service = authorize(server, (peer, message) => message.verb === 'Get' || setup.isAdmin(peer))
      cleanups.push(() => server.close())
      return { seen, service }
    }

    it('a handler sees the caller as the transport authenticated it', async () => {
      const { seen, service } = guarded()
      const url = await serve(service)
      const admin = await call(url, setup.admin)
      const described = (await admin.get()) as { transport: string; identity: unknown }
      expect(seen).toHaveLength(1)
      expect(seen[0]?.transport).toBe(setup.transport().name)
      expect(setup.isAdmin(seen[0])).toBe(true)
      expect(described.identity).not.toBeNull()
      setup.expectAdminIdentity?.(seen[0]?.identity)
    })

    const refusal =
      'authorize() refuses Stop to a caller the policy does not allow, and lets the admin through'
    if (!setup.other) {
      it.skip(`${refusal} [skipped: ${setup.otherMissing ?? 'no second caller given'}]`, () => {})
      return
    }
    const otherOptions = setup.other
    it(refusal, async () => {
      const { seen, service } = guarded()
      const url = await serve(service)
      const other = await call(url, otherOptions)
      expect(await other.get()).toBeTruthy() // Get is open to every authenticated caller
      const error = await other.stop().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect((error as Error).message).toMatch(/Stop is not allowed for/)
      expect(seen).toHaveLength(1) // the refused Stop never reached the handler

      const admin = await call(url, setup.admin)
      await admin.stop()
      expect(seen).toHaveLength(2)
      expect(setup.isAdmin(seen[1])).toBe(true)
    })
  })
}
