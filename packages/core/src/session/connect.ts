/**
 * Session-level dialling and listening by URL: picks the transport by scheme, runs the handshake,
 * and hands back Sessions. `memory://` is always available and needs no transport.
 */
import type { OperationOptions } from '../channel.ts'
import { abortErrorFrom, InvalidArgumentError, UnauthorizedError } from '../errors.ts'
import { pipe } from '../pipe.ts'
import type { DialOptions, ListenOptions, Transport } from '../transport.ts'
import { dialMemory, registerMemoryEndpoint } from './memory.ts'
import { createSession } from './session.ts'
import type { Session, SessionOptions } from './types.ts'

/** Options of {@link connect}. */
export interface ConnectOptions extends Omit<SessionOptions, 'role'> {
  /** Cancels the dial and the handshake (not the session once it is up; use `session.abort()`). */
  signal?: AbortSignal
  /** Transports to choose from by URL scheme. `memory://` needs none. Default: []. */
  transports?: readonly Transport[]
  /** Passed to the transport's `dial` (TLS material, headers, ...). */
  dialOptions?: Omit<DialOptions, 'signal'>
}

/** Options of {@link listen}. */
export interface ListenSessionsOptions extends Omit<SessionOptions, 'role'> {
  /** Transports to choose from by URL scheme. `memory://` needs none. Default: []. */
  transports?: readonly Transport[]
  /** Passed to the transport's `listen` (certificates, authenticate, ...). */
  listenOptions?: Omit<ListenOptions, 'signal'>
  /**
   * Called when an incoming link fails its handshake, or is refused by `listenOptions.authenticate`
   * (an UnauthorizedError naming the peer); the listener carries on. Default: ignore.
   */
  onError?: (error: Error) => void
  /** How many ready sessions may wait for `accept` before handshakes wait. Default: 128. */
  backlog?: number
}

/** A listening endpoint: an async iterable of incoming Sessions. */
export interface SessionListener extends AsyncIterable<Session> {
  /** The URL it listens on (with the real port when `:0` was asked for). */
  readonly url: URL
  /** The next session. Rejects with ChannelClosedError once the listener is closed. */
  accept(options?: OperationOptions): Promise<Session>
  /** Stops accepting. Sessions already accepted stay open. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

function toUrl(url: string | URL): URL {
  if (url instanceof URL) return url
  try {
    return new URL(url)
  } catch {
    throw new InvalidArgumentError(
      `not a URL: "${url}" (expected e.g. tcp://127.0.0.1:4000 or memory://name)`,
    )
  }
}

function pick(url: URL, transports: readonly Transport[] = []): Transport {
  const scheme = url.protocol.slice(0, -1)
  const transport = transports.find((t) => t.schemes.includes(scheme))
  if (!transport) {
    const known = ['memory', ...transports.flatMap((t) => t.schemes)]
    throw new InvalidArgumentError(
      `no transport for "${scheme}://" URLs (have: ${known.join(', ')}); pass one in options.transports, e.g. tcp() from @libswarm/transport-tcp`,
    )
  }
  return transport
}

/**
 * Dials `url` and runs a client session over it.
 *
 * @example
 * const session = await connect('tcp://127.0.0.1:4000', { transports: [tcp()] })
 * const tx = session.open<string>()
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<Session> {
  const target = toUrl(url)
  if (target.protocol === 'memory:') return dialMemory(target, options.signal)
  const transport = pick(target, options.transports)
  const signal = options.signal
  const link = await transport.dial(target, { ...options.dialOptions, signal })
  // The signal bounds the dial and the handshake only; the session lives on after it.
  const onAbort = () => link.destroy(new Error('connect was aborted'))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    return await createSession(link, { ...options, signal: undefined, role: 'client' })
  } catch (error) {
    if (signal?.aborted) throw abortErrorFrom(signal)
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Listens on `url`; each incoming connection that completes the handshake becomes a Session.
 *
 * @example
 * const listener = await listen('memory://svc')
 * for await (const session of listener) serve(session)
 */
export async function listen(
  url: string | URL,
  options: ListenSessionsOptions = {},
): Promise<SessionListener> {
  const target = toUrl(url)
  const [sessions, deliver] = pipe<Session>({ highWaterMark: options.backlog ?? 128 })
  const onError = options.onError ?? (() => {})
  let close: () => Promise<void>
  let listenUrl = target
  if (target.protocol === 'memory:') {
    const unregister = registerMemoryEndpoint(target, {
      deliver: (session, signal) => deliver.send(session, { signal }),
    })
    close = async () => {
      unregister()
      await deliver.close()
    }
  } else {
    const transport = pick(target, options.transports)
    const authenticate = options.listenOptions?.authenticate as ListenOptions['authenticate']
    const links = await transport.listen(target, {
      ...options.listenOptions,
      signal: options.signal,
      // A refused peer is reported to onError, so the server side sees who was turned away.
      ...(authenticate && { authenticate: reportRefusals(authenticate, onError) }),
    })
    listenUrl = links.url
    const sessionOptions: SessionOptions = { ...options, signal: undefined, role: 'server' }
    const loop = (async () => {
      try {
        for await (const link of links) {
          createSession(link, sessionOptions).then(
            (session) =>
              deliver.send(session).catch(() => {
                session.abort('the listener was closed')
              }),
            (error: Error) => onError(error),
          )
        }
      } catch (error) {
        onError(error as Error)
      }
    })()
    close = async () => {
      await links.close()
      await loop
      await deliver.close()
    }
  }
  let closing: Promise<void> | undefined
  const listener: SessionListener = {
    url: listenUrl,
    accept: (opts) => sessions.receive(opts),
    close: () => (closing ??= close()),
    [Symbol.asyncDispose]: () => listener.close(),
    [Symbol.asyncIterator]: () => sessions[Symbol.asyncIterator](),
  }
  options.signal?.addEventListener('abort', () => void listener.close(), { once: true })
  return listener
}

/** Wraps an authenticate hook so that each refusal (false or a throw) is also reported to `onError`. */
function reportRefusals(
  authenticate: NonNullable<ListenOptions['authenticate']>,
  onError: (error: Error) => void,
): NonNullable<ListenOptions['authenticate']> {
  return async (peer) => {
    const where = `${peer.transport} peer${peer.address ? ` ${peer.address}` : ''}`
    let accepted: boolean
    try {
      accepted = (await authenticate(peer)) === true
    } catch (error) {
      onError(
        new UnauthorizedError(`refused a connection from ${where}: the authenticate check threw`, {
          cause: error,
        }),
      )
      throw error
    }
    if (!accepted)
      onError(new UnauthorizedError(`refused a connection from ${where}: the authenticate check said no`))
    return accepted
  }
}
