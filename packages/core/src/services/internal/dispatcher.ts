/**
 * The engine under every service core builds: accepts messages as a `Sender<Message>`, bounds how
 * many are handled at once (send waits for a free slot), gives each call a context with an
 * AbortSignal, and turns a thrown error into an `Error` reply.
 */
import { SENDER, type Sender } from '../../channel.ts'
import { abortErrorFrom, ChannelClosedError, InvalidArgumentError } from '../../errors.ts'
import { type ClosedListener, whenClosed } from '../../internal/sender-hooks.ts'
import { replyError } from '../reply.ts'
import {
  type CallContext,
  isVerb,
  type Message,
  type Service,
  type ServiceOptions,
  type ServiceSendOptions,
  VERBS,
} from '../types.ts'

/**
 * Handles one message. Answering on `message.ret` is its job; a throw is answered with `Error`.
 * `release()` frees the call's concurrency slot early (a stream that keeps running after its
 * answer, such as Watch, must not block other calls).
 */
export type Run = (message: Message, context: CallContext, release: () => void) => unknown

/** Default of {@link ServiceOptions.maxConcurrency}. */
export const DEFAULT_MAX_CONCURRENCY = 64

interface SlotWaiter {
  resolve(): void
  reject(error: unknown): void
}

/** Checks the shape of a message; returns a description of what is wrong, or undefined. */
export function invalidMessage(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) {
    return `a service message must be an object { verb, args, ret?, att? }, got ${message === null ? 'null' : typeof message}`
  }
  const { verb, args } = message as Record<string, unknown>
  if (!isVerb(verb)) {
    return `unknown verb ${JSON.stringify(verb)}: expected one of ${VERBS.join(', ')}`
  }
  if (args !== undefined && (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string'))) {
    return `${verb}: args must be an array of strings`
  }
  return undefined
}

/** The reason a call's signal fires with when its caller closes the return channel, made on demand. */
const RET_CLOSED: unique symbol = Symbol('ret closed')

/**
 * A call's abort signal, made only when someone reads it. Most calls finish without anyone looking,
 * and an AbortController per call, plus the error and the event of firing it when the caller's
 * return channel closes (which it always does, once answered), cost more than the rest of a call's
 * bookkeeping together.
 */
class CallAbort implements ClosedListener {
  #controller: AbortController | undefined
  #aborted = false
  #reason: unknown

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reasonValue())
    }
    return this.#controller.signal
  }

  #reasonValue(): unknown {
    if (this.#reason === RET_CLOSED) {
      this.#reason = new ChannelClosedError('the caller closed the return channel')
    }
    return this.#reason
  }

  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(this.#reasonValue())
  }

  /**
   * The caller's return channel takes no more values. A signal someone holds fires a microtask
   * later, as it did when this watched `ret.closed` (not inside the close or cancel that ended ret).
   */
  senderClosed(): void {
    if (this.#controller) queueMicrotask(() => this.abort(RET_CLOSED))
    else this.abort(RET_CLOSED)
  }
}

export class Dispatcher implements Sender<Message> {
  declare readonly [SENDER]: true
  readonly #run: Run
  readonly #max: number
  readonly #onUnanswered: ((error: unknown, message: Message) => void) | undefined
  readonly #controller = new AbortController()
  readonly #waiters: SlotWaiter[] = []
  /** In-flight calls' signals, aborted together when the service ends. */
  readonly #calls = new Set<CallAbort>()
  /** Calls holding a concurrency slot. */
  #inflight = 0
  /** Calls not finished yet, slot released or not (what `idle()` waits for). */
  #streams = 0
  #open = true
  #closed: Promise<void> | undefined
  #resolveClosed: (() => void) | undefined
  #idle: (() => void) | undefined

  constructor(run: Run, options: ServiceOptions = {}) {
    this.#run = run
    const max = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY
    if (!(max >= 1)) throw new InvalidArgumentError(`maxConcurrency must be 1 or more, got ${max}`)
    this.#max = max
    this.#onUnanswered = options.onUnansweredError
  }

  /** Fires when the service is closed or aborted. */
  protected get signal(): AbortSignal {
    return this.#controller.signal
  }

  /**
   * A service to pass `message` to unchanged instead of handling it here (Server's fallback,
   * filter's pass-through). Backpressure and replies then flow through that service directly.
   */
  protected forwardTarget(_message: Message): Service | undefined {
    return undefined
  }

  /** Runs once when the service is closed or aborted. */
  protected onClose(): void | Promise<void> {}

  async send(message: Message, options?: ServiceSendOptions): Promise<void> {
    if (!this.#open) throw new ChannelClosedError('cannot send to a closed service')
    const signal = options?.signal
    if (signal?.aborted) throw abortErrorFrom(signal)
    const problem = invalidMessage(message)
    if (problem !== undefined) {
      const ret = (message as Partial<Message> | null)?.ret
      const error = new InvalidArgumentError(problem)
      if (ret && typeof ret.send === 'function') {
        await replyError(ret, error)
        return
      }
      throw error
    }
    if (message.args === undefined) message = { ...message, args: [] }
    const target = this.forwardTarget(message)
    if (target) return target.send(message, options)
    while (this.#inflight >= this.#max) await this.#slot(signal)
    if (!this.#open) throw new ChannelClosedError('cannot send to a closed service')
    this.#inflight++
    void this.#handle(message, options?.peer)
  }

  #slot(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: SlotWaiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter)
        if (index >= 0) this.#waiters.splice(index, 1)
        reject(abortErrorFrom(signal!))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  async #handle(message: Message, peer: ServiceSendOptions['peer']): Promise<void> {
    const call = new CallAbort()
    const service = this.#controller.signal
    if (service.aborted) call.abort(service.reason)
    else this.#calls.add(call)
    const ret = message.ret
    if (ret) whenClosed(ret, call)
    const context: CallContext = {
      message,
      verb: message.verb,
      args: message.args,
      att: message.att,
      get signal() {
        return call.signal
      },
      peer,
    }
    let released = false
    const release = () => {
      if (released) return
      released = true
      this.#inflight--
      const next = this.#waiters.shift()
      if (next) next.resolve()
    }
    this.#streams++
    try {
      await this.#run(message, context, release)
    } catch (error) {
      if (ret) await replyError(ret, error)
      else this.#onUnanswered?.(error, message)
    } finally {
      this.#calls.delete(call)
      release()
      this.#streams--
      if (this.#streams === 0) this.#idle?.()
    }
  }

  /** Resolves when no call is in flight. */
  protected idle(): Promise<void> {
    if (this.#streams === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const previous = this.#idle
      this.#idle = () => {
        this.#idle = undefined
        previous?.()
        resolve()
      }
    })
  }

  get closed(): Promise<void> {
    if (!this.#closed) {
      this.#closed = this.#open
        ? new Promise<void>((resolve) => (this.#resolveClosed = resolve))
        : Promise.resolve()
    }
    return this.#closed
  }

  /**
   * Stops accepting messages and fires every in-flight call's signal (streams such as Watch and an
   * Attach's output end). Resolves once in-flight calls have settled. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#end(new ChannelClosedError('the service was closed'))) await this.onClose()
    await this.idle()
  }

  /** Like {@link close}, with `reason` as the in-flight calls' abort reason; does not wait. */
  abort(reason?: unknown): void {
    if (this.#end(reason ?? new ChannelClosedError('the service was aborted'))) {
      void Promise.resolve()
        .then(() => this.onClose())
        .catch(() => {})
    }
  }

  #end(reason: unknown): boolean {
    if (!this.#open) return false
    this.#open = false
    this.#resolveClosed?.()
    this.#resolveClosed = undefined
    this.#controller.abort(reason)
    for (const call of this.#calls) call.abort(reason)
    this.#calls.clear()
    const error = new ChannelClosedError('cannot send to a closed service')
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error)
    return true
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
Object.defineProperty(Dispatcher.prototype, SENDER, { value: true })
