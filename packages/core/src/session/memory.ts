/**
 * The in-memory transport, `memory://name`: two sessions in one process whose channels are plain
 * {@link pipe}s, so messages (and the channel ends and streams inside them) pass by reference with
 * no encoding at all.
 */
import { type OperationOptions, RECEIVER, type Receiver, SENDER, type Sender } from '../channel.ts'
import {
  abortErrorFrom,
  ChannelAbortedError,
  ChannelClosedError,
  InvalidArgumentError,
  SessionClosedError,
  UnavailableError,
} from '../errors.ts'
import { pipe, receiverIterator } from '../pipe.ts'
import type { PeerInfo } from '../transport.ts'
import type { Session } from './types.ts'

/** Shared by the two ends of one in-memory session. */
class MemoryLink {
  readonly senders = new Set<Sender<unknown>>()
  readonly receivers = new Set<Receiver<unknown>>()
  ended = false
  error: Error | undefined

  kill(reason: Error): void {
    this.ended = true
    this.error = reason
    for (const sender of this.senders) sender.abort(reason)
    for (const receiver of this.receivers) receiver.cancel(reason)
  }
}

/** Maps the errors of a killed in-memory session to SessionClosedError, as a wire session does. */
function guardReceiver<T>(inner: Receiver<T>, link: MemoryLink): Receiver<T> {
  const mapError = (error: unknown): never => {
    if (link.error && error instanceof ChannelAbortedError && error.reason === link.error) throw link.error
    throw error
  }
  const receiver: Receiver<T> = {
    [RECEIVER]: true,
    receive: (options) => inner.receive(options).catch(mapError),
    cancel: (reason) => inner.cancel(reason),
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    [Symbol.asyncIterator]: () => receiverIterator(receiver),
  }
  return receiver
}

function guardSender<T>(inner: Sender<T>, link: MemoryLink): Sender<T> {
  const mapError = (error: unknown): never => {
    if (link.error && (error instanceof ChannelAbortedError || error instanceof ChannelClosedError))
      throw link.error
    throw error
  }
  return {
    [SENDER]: true,
    send: (value, options) => inner.send(value, options).catch(mapError),
    close: () => inner.close(),
    abort: (reason) => inner.abort(reason),
    get closed() {
      return inner.closed
    },
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
  }
}

class MemorySession implements Session {
  readonly codec = 'memory'
  other!: MemorySession
  private readonly incoming = pipe<Receiver<unknown>>({ highWaterMark: Number.POSITIVE_INFINITY })
  private resolveClosed!: (error: Error | undefined) => void
  readonly closed: Promise<Error | undefined> = new Promise((resolve) => (this.resolveClosed = resolve))
  private done = false
  private readonly opened = new Set<Sender<unknown>>()

  constructor(
    readonly peer: PeerInfo,
    private readonly link: MemoryLink,
  ) {}

  open<T = unknown>(): Sender<T> {
    if (this.done || this.link.ended)
      throw new SessionClosedError('cannot open a channel: the session is closed')
    const [rx, tx] = pipe<T>()
    this.link.senders.add(tx as Sender<unknown>)
    this.link.receivers.add(rx as Receiver<unknown>)
    this.opened.add(tx as Sender<unknown>)
    tx.closed.then(() => {
      this.link.senders.delete(tx as Sender<unknown>)
      this.opened.delete(tx as Sender<unknown>)
    })
    const guarded = guardReceiver(rx, this.link)
    void this.other.incoming[1].send(guarded as Receiver<unknown>).catch(() => rx.cancel())
    return guardSender(tx, this.link)
  }

  accept<T = unknown>(options?: OperationOptions): Promise<Receiver<T>> {
    return this.incoming[0].receive(options).catch((error: unknown) => {
      if (this.link.error && error instanceof ChannelAbortedError) throw this.link.error
      throw error
    }) as Promise<Receiver<T>>
  }

  [Symbol.asyncIterator](): AsyncIterator<Receiver> {
    return this.incoming[0][Symbol.asyncIterator]()
  }

  private end(error: Error | undefined): void {
    if (this.done) return
    this.done = true
    void this.other.incoming[1].close()
    void this.incoming[1].close()
    this.resolveClosed(error)
  }

  async close(): Promise<void> {
    if (this.done) return
    // Like a wire session: the channels this side opened end after what was sent on them.
    for (const tx of this.opened) void tx.close()
    this.end(undefined)
    this.other.end(undefined)
  }

  abort(reason?: unknown): void {
    if (this.done) return
    const error = new SessionClosedError(`the session was aborted: ${String(reason ?? 'no reason given')}`, {
      cause: reason,
    })
    this.link.kill(error)
    this.incoming[1].abort(error)
    this.other.incoming[1].abort(error)
    this.end(error)
    this.other.end(error)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/** Makes two connected in-memory sessions: what one opens, the other accepts. */
export function memorySessionPair(name = 'pair'): [Session, Session] {
  const link = new MemoryLink()
  const a = new MemorySession({ transport: 'memory', address: name }, link)
  const b = new MemorySession({ transport: 'memory', address: name }, link)
  a.other = b
  b.other = a
  return [a, b]
}

interface MemoryEndpoint {
  deliver(session: Session, signal?: AbortSignal): Promise<void>
}

const endpoints = new Map<string, MemoryEndpoint>()

/** The registry key of a `memory://name` URL. */
export function memoryName(url: URL): string {
  if (url.protocol !== 'memory:') throw new InvalidArgumentError(`not a memory URL: ${url.href}`)
  const name = `${url.host}${url.pathname === '/' ? '' : url.pathname}`
  if (!name) throw new InvalidArgumentError(`memory URL needs a name: memory://NAME, got ${url.href}`)
  return name
}

/** Registers an in-memory endpoint; returns a function that unregisters it. */
export function registerMemoryEndpoint(url: URL, endpoint: MemoryEndpoint): () => void {
  const name = memoryName(url)
  if (endpoints.has(name)) {
    throw new UnavailableError(
      `cannot listen on memory://${name}: it is already in use; close that listener or pick another name`,
    )
  }
  endpoints.set(name, endpoint)
  return () => {
    if (endpoints.get(name) === endpoint) endpoints.delete(name)
  }
}

/** Dials an in-memory endpoint: the client half of a new session pair. */
export async function dialMemory(url: URL, signal?: AbortSignal): Promise<Session> {
  const name = memoryName(url)
  const endpoint = endpoints.get(name)
  if (!endpoint) throw new UnavailableError(`nothing is listening on memory://${name}`)
  const [client, server] = memorySessionPair(name)
  try {
    await endpoint.deliver(server, signal)
  } catch (error) {
    if (signal?.aborted) throw abortErrorFrom(signal)
    throw new UnavailableError(`memory://${name} stopped listening`, {
      cause: error instanceof ChannelClosedError ? undefined : error,
    })
  }
  return client
}
