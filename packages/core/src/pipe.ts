import { type OperationOptions, RECEIVER, type Receiver, SENDER, type Sender } from './channel.ts'
import { abortErrorFrom, ChannelAbortedError, ChannelClosedError } from './errors.ts'
import { listen, Queue, settle, type Waiter } from './internal/queue.ts'
import {
  type ClosedListener,
  ClosedListeners,
  ON_CLOSED,
  TRY_SEND,
  type TrySender,
} from './internal/sender-hooks.ts'

/** Options of {@link pipe}. */
export interface PipeOptions {
  /**
   * How many values the channel holds before `send` waits. `0` makes every send wait for a receive
   * (a rendezvous, like an unbuffered Go channel). Default: 64.
   */
  highWaterMark?: number
}

/** Default buffer size of an in-memory channel. */
export const DEFAULT_HIGH_WATER_MARK = 64

const RESOLVED: Promise<void> = Promise.resolve()

const OPEN = 0
const CLOSED = 1 // the sender closed: drain, then end
const ABORTED = 2 // the sender aborted: error now
const CANCELLED = 3 // the receiver stopped reading

interface PendingSend<T> extends Waiter<void> {
  value: T
}

/** The state shared by the two ends of one in-memory channel. */
class PipeCore<T> {
  readonly buffer = new Queue<T>()
  readonly readers = new Queue<Waiter<T>>()
  readonly writers = new Queue<PendingSend<T>>()
  state = OPEN
  error: Error | undefined
  private closedPromise: Promise<void> | undefined
  private resolveClosed: (() => void) | undefined
  /** Told once when the channel takes no more values (see {@link ON_CLOSED}). */
  private closedListeners: ClosedListeners | undefined

  /** See {@link Sender.closed}. Made on first use. */
  get closed(): Promise<void> {
    if (!this.closedPromise) {
      if (this.state !== OPEN) this.closedPromise = RESOLVED
      else this.closedPromise = new Promise<void>((resolve) => (this.resolveClosed = resolve))
    }
    return this.closedPromise
  }

  private ended(): void {
    this.resolveClosed?.()
    this.resolveClosed = undefined
    this.closedListeners?.fire()
  }

  /** See {@link ON_CLOSED}. */
  onClosed(listener: ClosedListener): void {
    if (this.state !== OPEN) queueMicrotask(() => listener.senderClosed())
    else (this.closedListeners ??= new ClosedListeners()).add(listener)
  }

  constructor(readonly highWaterMark: number) {}

  send(value: T, options?: OperationOptions): Promise<void> {
    if (this.state !== OPEN) return Promise.reject(this.sendError())
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal))
    const reader = this.readers.shift()
    if (reader) {
      settle(reader)
      reader.resolve(value)
      return RESOLVED
    }
    if (this.buffer.length < this.highWaterMark) {
      this.buffer.push(value)
      return RESOLVED
    }
    return new Promise<void>((resolve, reject) => {
      const writer: PendingSend<T> = { value, resolve, reject, signal, onAbort: undefined }
      this.writers.push(writer)
      listen(writer, this.writers)
    })
  }

  /** See {@link TRY_SEND}: true when `value` was accepted at once. */
  trySend(value: T): boolean {
    if (this.state !== OPEN) return false
    const reader = this.readers.shift()
    if (reader) {
      settle(reader)
      reader.resolve(value)
      return true
    }
    if (this.buffer.length < this.highWaterMark) {
      this.buffer.push(value)
      return true
    }
    return false
  }

  /** Takes the next value if one is ready; `NONE` otherwise. */
  take(): T | typeof NONE {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T
      const writer = this.writers.shift()
      if (writer) {
        settle(writer)
        this.buffer.push(writer.value)
        writer.resolve()
      }
      return value
    }
    const writer = this.writers.shift()
    if (writer) {
      settle(writer)
      writer.resolve()
      return writer.value
    }
    return NONE
  }

  receive(options?: OperationOptions): Promise<T> {
    if (this.state === CANCELLED) return Promise.reject(this.receiveError())
    const value = this.take()
    if (value !== NONE) return Promise.resolve(value)
    if (this.state !== OPEN) return Promise.reject(this.receiveError())
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal))
    return new Promise<T>((resolve, reject) => {
      const reader: Waiter<T> = { resolve, reject, signal, onAbort: undefined }
      this.readers.push(reader)
      listen(reader, this.readers)
    })
  }

  close(): void {
    if (this.state !== OPEN) return
    this.state = CLOSED
    this.ended()
    // Readers only wait when nothing is buffered or pending, so the channel has ended for them.
    this.failReaders()
  }

  /** Ordered: what was accepted is still delivered, then the error. Sends not yet accepted fail. */
  abort(reason: unknown): void {
    if (this.state === ABORTED || this.state === CANCELLED) return
    this.state = ABORTED
    this.error = new ChannelAbortedError(reason)
    this.ended()
    this.failWriters()
    this.failReaders()
  }

  cancel(): void {
    if (this.state === CANCELLED) return
    this.state = CANCELLED
    this.ended()
    this.buffer.clear()
    this.failWriters()
    this.failReaders()
  }

  private failReaders(): void {
    for (const reader of this.readers.clear()) {
      settle(reader)
      reader.reject(this.receiveError())
    }
  }

  private failWriters(): void {
    for (const writer of this.writers.clear()) {
      settle(writer)
      writer.reject(this.sendError())
    }
  }

  sendError(): Error {
    if (this.state === ABORTED) return this.error!
    if (this.state === CANCELLED)
      return new ChannelClosedError('the receiver stopped reading from this channel')
    return new ChannelClosedError('cannot send on a closed channel')
  }

  receiveError(): Error {
    if (this.state === ABORTED) return this.error!
    return new ChannelClosedError('the channel has ended')
  }
}

const NONE: unique symbol = Symbol('none')

class PipeSender<T> implements Sender<T>, TrySender<T> {
  declare readonly [SENDER]: true
  constructor(private readonly core: PipeCore<T>) {}

  send(value: T, options?: OperationOptions): Promise<void> {
    return this.core.send(value, options)
  }

  [TRY_SEND](value: T): boolean {
    return this.core.trySend(value)
  }

  [ON_CLOSED](listener: ClosedListener): void {
    this.core.onClosed(listener)
  }

  close(): Promise<void> {
    this.core.close()
    return RESOLVED
  }

  abort(reason?: unknown): void {
    this.core.abort(reason)
  }

  get closed(): Promise<void> {
    return this.core.closed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
Object.defineProperty(PipeSender.prototype, SENDER, { value: true })

class PipeReceiver<T> implements Receiver<T> {
  declare readonly [RECEIVER]: true
  constructor(private readonly core: PipeCore<T>) {}

  receive(options?: OperationOptions): Promise<T> {
    return this.core.receive(options)
  }

  cancel(): void {
    this.core.cancel()
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.core.cancel()
    return RESOLVED
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return receiverIterator(this)
  }
}
Object.defineProperty(PipeReceiver.prototype, RECEIVER, { value: true })

/**
 * Creates an in-memory channel: values (and channel ends, byte streams, attachments inside them)
 * pass by reference, with no encoding.
 *
 * @example
 * const [rx, tx] = pipe<string>()
 * await tx.send('hello')
 * await tx.close()
 * for await (const value of rx) console.log(value)
 */
export function pipe<T = unknown>(options: PipeOptions = {}): [Receiver<T>, Sender<T>] {
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
  if (!(highWaterMark >= 0)) throw new RangeError(`highWaterMark must be 0 or more, got ${highWaterMark}`)
  const core = new PipeCore<T>(highWaterMark)
  return [new PipeReceiver(core), new PipeSender(core)]
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

function iteratorValue<T>(value: T): IteratorResult<T> {
  return { done: false, value }
}

function iteratorEnd(error: unknown): IteratorReturnResult<undefined> {
  if (error instanceof ChannelClosedError) return DONE
  throw error
}

/**
 * The async iterator every Receiver uses: ends at ChannelClosedError, throws any other error, and
 * cancels the receiver when the loop is left early.
 */
export function receiverIterator<T>(receiver: Pick<Receiver<T>, 'receive' | 'cancel'>): AsyncIterator<T> {
  return {
    next: () => receiver.receive().then(iteratorValue<T>, iteratorEnd),
    return: () => {
      receiver.cancel()
      return Promise.resolve(DONE)
    },
  }
}
