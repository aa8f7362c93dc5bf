import {
  connect,
  createSession,
  type Link,
  type ListenOptions,
  listen,
  type PeerInfo,
  type Session,
  type SessionLimits,
  type SessionListener,
  type Transport,
} from '@libswarm/core'
import { it } from 'vitest'
import type { TransportTestSetup } from '../types.ts'

/**
 * Observes a promise at once (so a rejection that comes before the case awaits it is not reported
 * as unhandled) and resolves with its value or its error. A value where an error was expected
 * fails the case's `toBeInstanceOf` check.
 */
export function outcome<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  )
}

/** Every case's wait is bounded by this. */
export const bounded = (ms = 5000) => ({ signal: AbortSignal.timeout(ms) })

/** What a suite file receives. */
export interface SuiteContext {
  setup: TransportTestSetup
  /** Registers one case (skipped, with its reason, if the setup lists it). */
  test(suite: string, name: string, fn: () => Promise<void>, timeout?: number): void
  /** A listener plus one connected client/server session pair. */
  pair(options?: PairOptions): Promise<Pair>
  /** A listener only. */
  listener(
    options?: PairOptions,
  ): Promise<
    { listener: SessionListener; transport: Transport | undefined; errors: Error[] } & AsyncDisposable
  >
  /** Dials a raw Link to `url` with the setup's transport (for bad-bytes and kill cases). */
  rawLink(url: URL): Promise<Link>
  /** Scaled size. */
  scaled(n: number): number
}

export interface PairOptions {
  clientLimits?: SessionLimits
  serverLimits?: SessionLimits
  /** Dial the client through a raw link that the case may destroy (to simulate a killed peer). */
  rawClient?: boolean
  /** The listener's `authenticate` hook (runs after the setup's own, if it has one). */
  authenticate?: ListenOptions['authenticate']
}

export interface Pair extends AsyncDisposable {
  client: Session
  server: Session
  listener: SessionListener
  /** The client's link, when `rawClient` was asked for. */
  clientLink: Link | undefined
}

export function makeContext(setup: TransportTestSetup, known: Set<string>): SuiteContext {
  const skips = new Map<string, string>()
  for (const entry of setup.skip ?? []) for (const name of entry.tests) skips.set(name, entry.reason)
  const limitsOf = (extra?: SessionLimits): SessionLimits => ({ ...setup.limits, ...extra })

  const listenerFor = async (options: PairOptions = {}) => {
    const transport = await setup.transport()
    const errors: Error[] = []
    const listener = await listen(setup.url(), {
      transports: transport ? [transport] : [],
      listenOptions: withAuthenticate(setup.listenOptions, options.authenticate),
      limits: limitsOf(options.serverLimits),
      onError: (error) => errors.push(error),
    })
    return {
      listener,
      transport,
      errors,
      [Symbol.asyncDispose]: () => listener.close(),
    }
  }

  const rawLink = async (url: URL): Promise<Link> => {
    const transport = await setup.transport()
    if (!transport)
      throw new Error(`${setup.name}: this case needs a transport with raw links; add it to skip`)
    return transport.dial(url, { ...setup.dialOptions, signal: AbortSignal.timeout(5000) })
  }

  return {
    setup,
    scaled: (n) => Math.max(1, Math.round(n * (setup.scale ?? 1))),
    test(suite, name, fn, timeout = 30_000) {
      const full = `${suite} > ${name}`
      known.add(full)
      const reason = skips.get(full)
      if (reason !== undefined) it.skip(`${name} [skipped: ${reason}]`, fn)
      else it(name, fn, timeout)
    },
    listener: listenerFor,
    rawLink,
    async pair(options = {}) {
      const { listener, transport } = await listenerFor(options)
      let client: Session
      let clientLink: Link | undefined
      const accepted = listener.accept(bounded())
      if (options.rawClient) {
        clientLink = await rawLink(listener.url)
        client = await createSession(clientLink, { role: 'client', limits: limitsOf(options.clientLimits) })
      } else {
        client = await connect(listener.url, {
          transports: transport ? [transport] : [],
          dialOptions: setup.dialOptions,
          limits: limitsOf(options.clientLimits),
          signal: AbortSignal.timeout(5000),
        })
      }
      const server = await accepted
      return {
        client,
        server,
        listener,
        clientLink,
        async [Symbol.asyncDispose]() {
          client.abort('test over')
          server.abort('test over')
          await listener.close()
        },
      }
    },
  }
}

/** The setup's listen options with `authenticate` added after the setup's own check. */
function withAuthenticate(
  base: Omit<ListenOptions, 'signal'> | undefined,
  authenticate: ListenOptions['authenticate'],
): Omit<ListenOptions, 'signal'> | undefined {
  if (!authenticate) return base
  const own = base?.authenticate as ListenOptions['authenticate']
  return {
    ...base,
    authenticate: async (peer: PeerInfo) => (own ? (await own(peer)) === true : true) && authenticate(peer),
  }
}
