import { isSender, type Receiver } from '../channel.ts'
import {
  abortErrorFrom,
  ChannelAbortedError,
  ChannelClosedError,
  LibswarmError,
  RemoteError,
  TimeoutError,
  UnavailableError,
} from '../errors.ts'
import { canTrySend, TRY_SEND } from '../internal/sender-hooks.ts'
import { pipe } from '../pipe.ts'
import type { Attachment, ByteStream } from '../streams.ts'
import { MappedReceiver, SKIP } from './internal/map-receiver.ts'
import { errorFromMessage } from './reply.ts'
import type { Attached, Message, Service, Verb, WatchEvent } from './types.ts'

/** Default of {@link ClientOptions.timeout}: 30 s. */
export const DEFAULT_CALL_TIMEOUT = 30_000

/** Options of {@link Client}. */
export interface ClientOptions {
  /**
   * How long a call waits for its first reply, in ms; `0` or `Infinity` waits forever. A Watch or
   * Attach stream is not limited once answered. Default: 30 000.
   */
  timeout?: number
}

/** Options of every call. */
export interface CallOptions {
  /** Cancels the call (the reply channel is cancelled too, so the service sees the caller left). */
  signal?: AbortSignal
  /** Overrides the client's timeout for this call, in ms. */
  timeout?: number
}

/** Options of {@link Client.call}, {@link Client.open} and {@link Client.post}. */
export interface RequestOptions extends CallOptions {
  /** A byte stream or attachment to send with the request (`att`). */
  att?: ByteStream | Attachment
}

/** The first reply of a call and the rest of its reply channel. */
export interface OpenReply {
  reply: Message
  rest: Receiver<Message>
}

/**
 * Typed calls over any service (`Sender<Message>`), in memory or across a session. Each call sends
 * the request with a fresh return channel and waits for the reply `docs/VERBS.md` defines. An
 * `Error` reply rejects with the typed error matching its code (NotFoundError, ConflictError,
 * InvalidArgumentError, NotImplementedError, UnavailableError, UnauthorizedError, TimeoutError;
 * else RemoteError), its message the remote text unchanged. No reply within the timeout rejects with
 * TimeoutError; a reply channel closed without an answer rejects with RemoteError.
 *
 * @example
 * const client = new Client(service, { timeout: 5_000 })
 * const names = await client.ls()
 * const child = await client.spawn(['web', 'nginx'])
 * await child.start()
 * for await (const event of await client.watch()) console.log(event.type, event.name)
 */
export class Client {
  /** The service this client calls. */
  readonly service: Service
  /** The first-reply timeout of every call, in ms (0: none). */
  readonly timeout: number

  constructor(service: Service, options: ClientOptions = {}) {
    if (!isSender(service)) throw new TypeError('Client needs a service (a Sender<Message>)')
    this.service = service
    this.timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT
  }

  /**
   * Sends `verb args` with a return channel and resolves with the first reply and the rest of the
   * channel (for streams: Attach's output, Watch's events). Cancel `rest` when done with it. An
   * `Error` first reply rejects.
   */
  async open(verb: Verb, args: string[] = [], options: RequestOptions = {}): Promise<OpenReply> {
    const [rest, ret] = pipe<Message>({ highWaterMark: 16 })
    const timeout = options.timeout ?? this.timeout
    const outer = options.signal
    // A plain timer cleared at the end (AbortSignal.timeout keeps a live timer per call until it
    // fires), and an AbortController only while a send waits: once the request is out, a timeout
    // or the caller's abort cancels the reply channel, which ends the wait for the reply.
    let controller: AbortController | undefined
    let sent = false
    let timeoutReason: TimeoutError | undefined
    let aborted = false
    const stop = (reason: unknown) => {
      if (sent) rest.cancel(reason)
      else controller?.abort(reason)
    }
    const timer =
      timeout > 0 && Number.isFinite(timeout)
        ? setTimeout(() => {
            timeoutReason = new TimeoutError(`${verb} got no answer within ${timeout} ms`)
            stop(timeoutReason)
          }, timeout)
        : undefined
    const onAbort = () => {
      aborted = true
      stop(outer?.reason)
    }
    if (outer?.aborted) aborted = true
    else outer?.addEventListener('abort', onAbort, { once: true })
    const request: Message = { verb, args, ret }
    if (options.att !== undefined) request.att = options.att
    let reply: Message
    try {
      if (aborted) throw abortErrorFrom(outer!)
      const service = this.service
      if (!(canTrySend<Message>(service) && service[TRY_SEND](request))) {
        controller = new AbortController()
        await service.send(request, { signal: controller.signal })
      }
      sent = true
      if (timeoutReason) throw timeoutReason
      if (aborted) throw abortErrorFrom(outer!)
      reply = await rest.receive()
    } catch (error) {
      rest.cancel(error)
      if (timeoutReason)
        throw new TimeoutError(`${verb} got no answer within ${timeout} ms`, { cause: timeoutReason })
      if (aborted) throw abortErrorFrom(outer!)
      if (error instanceof ChannelClosedError && !sent) {
        throw new UnavailableError(`${verb}: ${error.message}`, { cause: error })
      }
      if (error instanceof ChannelClosedError) {
        throw new RemoteError(`${verb}: the service ended the reply channel without answering`, {
          cause: error,
        })
      }
      // The reply channel was aborted with a typed reason (the session carrying the call died, a
      // backend process ended, a handler aborted it on purpose): that reason is the answer.
      if (error instanceof ChannelAbortedError && error.reason instanceof LibswarmError) throw error.reason
      throw error
    } finally {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onAbort)
    }
    if (reply?.verb === 'Error') {
      rest.cancel()
      throw errorFromMessage(reply)
    }
    return { reply, rest }
  }

  /** Sends `verb args` and resolves with the first reply (the rest of the reply channel is dropped). */
  async call(verb: Verb, args: string[] = [], options: RequestOptions = {}): Promise<Message> {
    const { reply, rest } = await this.open(verb, args, options)
    rest.cancel()
    return reply
  }

  /** Sends `verb args` without a return channel: nothing comes back, not even an error. */
  post(verb: Verb, args: string[] = [], options: RequestOptions = {}): Promise<void> {
    const message: Message = { verb, args }
    if (options.att !== undefined) message.att = options.att
    return this.service.send(message, { signal: options.signal })
  }

  /** Ls: the names of the children, sorted. */
  async ls(options?: CallOptions): Promise<string[]> {
    return expect(await this.call('Ls', [], options), 'Ls', 'Set').args
  }

  /** Attach NAME: the child as a Client, and the reply channel's rest (its output) until closed. */
  async attach(name = '', options?: CallOptions): Promise<Attached<Client>> {
    const { reply, rest } = await this.open('Attach', name === '' ? [] : [name], options)
    try {
      return { instance: this.#child(expect(reply, 'Attach', 'Ack'), 'Attach'), output: rest }
    } catch (error) {
      rest.cancel(error)
      throw error
    }
  }

  /** Spawn ARGS: the new instance, as a Client with this client's options. */
  async spawn(args: string[] = [], options?: CallOptions): Promise<Client> {
    return this.#child(expect(await this.call('Spawn', args, options), 'Spawn', 'Ack'), 'Spawn')
  }

  /** Get: the description, parsed from the reply's JSON. */
  async get<T = unknown>(args: string[] = [], options?: CallOptions): Promise<T> {
    const reply = expect(await this.call('Get', args, options), 'Get', 'Set')
    return parseJson(reply.args[0], 'Get') as T
  }

  /** Set ARGS. */
  async set(args: string[], options?: CallOptions): Promise<void> {
    expect(await this.call('Set', args, options), 'Set', 'Ack')
  }

  /** Start (the instance itself, or what ARGS name). */
  async start(args: string[] = [], options?: CallOptions): Promise<void> {
    expect(await this.call('Start', args, options), 'Start', 'Ack')
  }

  /** Stop (the instance itself, or what ARGS name). */
  async stop(args: string[] = [], options?: CallOptions): Promise<void> {
    expect(await this.call('Stop', args, options), 'Stop', 'Ack')
  }

  /** Log LINES: asks the service to log them. */
  async log(lines: string | string[], options?: CallOptions): Promise<void> {
    expect(await this.call('Log', typeof lines === 'string' ? [lines] : lines, options), 'Log', 'Ack')
  }

  /** Error MESSAGE [CODE]: reports a failure to the service. */
  async error(message: string, code?: string, options?: CallOptions): Promise<void> {
    expect(await this.call('Error', code ? [message, code] : [message], options), 'Error', 'Ack')
  }

  /** File NAME with `content` as the attachment. */
  async file(name: string, content: ByteStream | Attachment, options?: CallOptions): Promise<void> {
    expect(await this.call('File', [name], { ...options, att: content }), 'File', 'Ack')
  }

  /** Connect ARGS: a byte stream to the thing itself (a container's stdio, a port, a shell). */
  async connect(args: string[] = [], options?: CallOptions): Promise<ByteStream | Attachment> {
    const reply = expect(await this.call('Connect', args, options), 'Connect', 'Ack')
    if (reply.att === undefined || reply.att === null) {
      throw new RemoteError('Connect: the service answered Ack without a byte stream (att)')
    }
    return reply.att
  }

  /**
   * Watch ARGS: a Receiver of change events, until you cancel it (or the service ends the stream).
   * The timeout applies to the initial Ack only; `signal` aborting later cancels the stream.
   */
  async watch(args: string[] = [], options?: CallOptions): Promise<Receiver<WatchEvent>> {
    const { reply, rest } = await this.open('Watch', args, options)
    try {
      expect(reply, 'Watch', 'Ack')
    } catch (error) {
      rest.cancel(error)
      throw error
    }
    options?.signal?.addEventListener('abort', () => rest.cancel(options.signal?.reason), { once: true })
    return new MappedReceiver(rest, (message: Message): WatchEvent | typeof SKIP => {
      if (message.verb === 'Error') throw errorFromMessage(message)
      if (message.verb !== 'Set') return SKIP
      const event = parseJson(message.args[0], 'Watch')
      if (typeof event !== 'object' || event === null || typeof (event as WatchEvent).type !== 'string') {
        throw new RemoteError(`Watch: an event is not a {type, name, ...} object: ${message.args[0]}`)
      }
      return event as WatchEvent
    })
  }

  /** Closes the service this client calls (for a spawned or attached child over a session: releases it). */
  close(): Promise<void> {
    return this.service.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #child(reply: Message, verb: Verb): Client {
    if (!isSender(reply.ret))
      throw new RemoteError(`${verb}: the service answered Ack without an instance (ret)`)
    return new Client(reply.ret, { timeout: this.timeout })
  }
}

function expect(reply: Message, verb: Verb, expected: Verb): Message {
  if (reply?.verb !== expected) {
    throw new RemoteError(`${verb}: unexpected reply ${String(reply?.verb)} (expected ${expected})`)
  }
  if (!Array.isArray(reply.args)) reply.args = []
  return reply
}

function parseJson(text: string | undefined, verb: Verb): unknown {
  if (text === undefined) throw new RemoteError(`${verb}: the reply carries no JSON (args[0] is missing)`)
  try {
    return JSON.parse(text)
  } catch {
    const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text
    throw new RemoteError(`${verb}: the reply is not valid JSON: ${shown}`)
  }
}
