import { isSender } from '../channel.ts'
import { InvalidArgumentError } from '../errors.ts'
import type { Attachment, ByteStream } from '../streams.ts'
import { Dispatcher } from './internal/dispatcher.ts'
import { pump } from './internal/pump.ts'
import { reference } from './reference.ts'
import { notImplementedMessage, replyAck, replyAndClose } from './reply.ts'
import type { CallContext, Message, Service, ServiceOptions, Verb, WatchEvent } from './types.ts'

/** Something a handler may return synchronously or as a promise. */
export type MaybePromise<T> = T | Promise<T>

/** What `onAttach` may return: the child alone, or the child and its output (sent on the Attach's ret after the Ack). */
export type AttachResult = Service | { instance: Service; output?: AsyncIterable<Message> }

/**
 * Typed handlers of a {@link Server}, one per verb, all optional. Each gets the message's args and
 * a {@link CallContext}, and returns a value the server turns into the reply `docs/VERBS.md` defines:
 *
 * | handler | returns | reply on `ret` |
 * |---|---|---|
 * | `onLs` | child names | `Set` args = the names, sorted |
 * | `onAttach` | the child (and optionally its output) | `Ack` with `ret` = a {@link reference} to the child; then the output messages; then close |
 * | `onSpawn` | the new instance | `Ack` with `ret` = a {@link reference} to the instance |
 * | `onGet` | a JSON-able description | `Set` args[0] = its JSON |
 * | `onWatch` | an AsyncIterable of {@link WatchEvent} (a Receiver works) | `Ack`, then one `Set [json]` per event, until the caller closes |
 * | `onConnect` | a byte stream or attachment | `Ack` with `att` = the stream |
 * | `onStart` `onStop` `onSet` `onFile` `onLog` `onError` `onAck` | nothing | `Ack` |
 *
 * A handler that throws answers `Error [message, code]` (the code of a LibswarmError). A verb with no
 * handler goes to `catchAll`, else to the `fallback` service, else answers
 * `Error ["not implemented: <Verb>", "NOT_IMPLEMENTED"]`. A bare `Start` or `Stop` (no args) is
 * never sent to the fallback: without `onStart`/`onStop` it answers NOT_IMPLEMENTED.
 */
export interface ServerHandlers {
  onAck?(args: string[], context: CallContext): MaybePromise<void>
  onAttach?(args: string[], context: CallContext): MaybePromise<AttachResult>
  onConnect?(args: string[], context: CallContext): MaybePromise<ByteStream | Attachment>
  onError?(args: string[], context: CallContext): MaybePromise<void>
  /** The content is in `context.att`. */
  onFile?(args: string[], context: CallContext): MaybePromise<void>
  onGet?(args: string[], context: CallContext): MaybePromise<unknown>
  onLog?(args: string[], context: CallContext): MaybePromise<void>
  onLs?(args: string[], context: CallContext): MaybePromise<Iterable<string>>
  onSet?(args: string[], context: CallContext): MaybePromise<void>
  onSpawn?(args: string[], context: CallContext): MaybePromise<Service>
  onStart?(args: string[], context: CallContext): MaybePromise<void>
  onStop?(args: string[], context: CallContext): MaybePromise<void>
  onWatch?(args: string[], context: CallContext): MaybePromise<AsyncIterable<WatchEvent>>
  /**
   * Every verb without a typed handler. It answers on `message.ret` itself (or forwards the message);
   * a throw is answered with `Error`.
   */
  catchAll?(message: Message, context: CallContext): MaybePromise<void>
}

/** Options of {@link Server}. */
export interface ServerOptions extends ServiceOptions {
  /**
   * Where messages with no handler (and no `catchAll`) go, unchanged, with their `ret`: typically a
   * pipeline stage's `context.out`. Default: none, they answer "not implemented".
   */
  fallback?: Service
}

type TypedHandler = (args: string[], context: CallContext) => unknown

/**
 * True for a bare `Start` or `Stop` (no args): it addresses the instance that receives it, so a stage
 * that forwards what it does not handle answers it itself instead of passing it on (docs/VERBS.md,
 * "Start and Stop in a pipeline").
 */
export function isOwnRunState(message: Pick<Message, 'verb' | 'args'>): boolean {
  return (message.verb === 'Start' || message.verb === 'Stop') && message.args.length === 0
}

/**
 * A service that routes each verb to a typed handler and writes the reply for it (see
 * {@link ServerHandlers} and `docs/VERBS.md`). Handles up to `maxConcurrency` messages at once;
 * `send` waits beyond that. `close()` stops it and fires every in-flight call's signal.
 *
 * @example
 * const hello = new Server({
 *   onLs: () => ['world'],
 *   onGet: () => ({ greeting: 'hello' }),
 * })
 * const client = new Client(hello)
 * await client.ls() // ['world']
 * await client.get() // { greeting: 'hello' }
 * await client.start() // rejects: NotImplementedError "not implemented: Start"
 */
export class Server extends Dispatcher {
  readonly #handlers: ServerHandlers
  readonly #fallback: Service | undefined

  constructor(handlers: ServerHandlers = {}, options: ServerOptions = {}) {
    super((message, context, release) => this.#route(message, context, release), options)
    this.#handlers = handlers
    this.#fallback = options.fallback
  }

  protected override forwardTarget(message: Message): Service | undefined {
    if (!this.#fallback || this.#handles(message.verb) || this.#handlers.catchAll) return undefined
    // A bare Start or Stop addresses this instance (docs/VERBS.md rule 8): never the fallback, which
    // (as a pipeline's next stage) gets its own Start and Stop from the pipeline.
    if (isOwnRunState(message)) return undefined
    return this.#fallback
  }

  #handles(verb: Verb): boolean {
    return typeof (this.#handlers as Record<string, unknown>)[`on${verb}`] === 'function'
  }

  async #route(message: Message, context: CallContext, release: () => void): Promise<void> {
    const handlers = this.#handlers
    const handler = (handlers as Record<string, TypedHandler | undefined>)[`on${message.verb}`]
    const ret = message.ret
    if (!handler) {
      if (handlers.catchAll) return handlers.catchAll.call(handlers, message, context)
      if (ret) await replyAndClose(ret, notImplementedMessage(message.verb))
      return
    }
    const returned = handler.call(handlers, message.args, context)
    // A handler that answers synchronously does not wait a microtask for its own value.
    const result = isThenable(returned) ? await returned : returned
    switch (message.verb) {
      case 'Ls':
        return replyAndClose(ret, { verb: 'Set', args: namesOf(result) })
      case 'Get':
        return replyAndClose(ret, { verb: 'Set', args: [JSON.stringify(result) ?? 'null'] })
      case 'Spawn':
        if (!isSender(result)) throw new TypeError('onSpawn must return a Service (a Sender<Message>)')
        return replyAck(ret, { ret: reference(result as Service) })
      case 'Connect':
        if (result === undefined || result === null)
          throw new TypeError('onConnect must return a byte stream')
        return replyAck(ret, { att: result as ByteStream | Attachment })
      case 'Attach':
        return this.#attach(result as AttachResult, ret, context, release)
      case 'Watch':
        return this.#watch(result as AsyncIterable<WatchEvent>, ret, context, release)
      default:
        return replyAck(ret)
    }
  }

  async #attach(
    result: AttachResult,
    ret: Service | undefined,
    context: CallContext,
    release: () => void,
  ): Promise<void> {
    const instance = isSender(result) ? (result as Service) : result?.instance
    if (!isSender(instance)) throw new TypeError('onAttach must return a Service or { instance, output }')
    const output = isSender(result) ? undefined : (result as { output?: AsyncIterable<Message> }).output
    if (!ret) return
    if (!output) return replyAck(ret, { ret: reference(instance) })
    try {
      await ret.send({ verb: 'Ack', args: [], ret: reference(instance) })
    } catch {
      return
    }
    release() // the output stream must not hold a concurrency slot
    await pump(output, ret, (message) => message, context.signal)
  }

  async #watch(
    events: AsyncIterable<WatchEvent>,
    ret: Service | undefined,
    context: CallContext,
    release: () => void,
  ): Promise<void> {
    if (!events || typeof events[Symbol.asyncIterator] !== 'function') {
      throw new TypeError('onWatch must return an AsyncIterable of WatchEvent')
    }
    if (!ret) return
    try {
      await ret.send({ verb: 'Ack', args: [] })
    } catch {
      return
    }
    release() // the event stream must not hold a concurrency slot
    await pump(
      events,
      ret,
      (event) => ({ verb: 'Set', args: [JSON.stringify(withTime(event))] }),
      context.signal,
    )
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Adds `time` (now, ISO 8601) to an event that has none. */
function withTime(event: WatchEvent): WatchEvent {
  return typeof event.time === 'string' ? event : { ...event, time: new Date().toISOString() }
}

function namesOf(result: unknown): string[] {
  if (result === null || typeof result !== 'object' || !(Symbol.iterator in result)) {
    throw new TypeError('onLs must return an iterable of names')
  }
  const names = [...(result as Iterable<unknown>)]
  for (const name of names) {
    if (typeof name !== 'string')
      throw new InvalidArgumentError(`onLs returned a non-string name: ${String(name)}`)
  }
  return (names as string[]).sort()
}
