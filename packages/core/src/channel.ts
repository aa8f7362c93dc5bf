/**
 * The channel contract. A channel is one-way and ordered: values sent on a {@link Sender} arrive, in
 * order, at its {@link Receiver}. Request/response is a message that carries a return Sender.
 *
 * Every implementation (the in-memory {@link pipe}, the ends a session hands out) brands its objects
 * with {@link SENDER} / {@link RECEIVER}, which is how codecs and sessions find channel ends nested
 * anywhere inside a message.
 */

/** Options every channel operation accepts. */
export interface OperationOptions {
  /** Cancels the wait; the call rejects with an AbortError (or TimeoutError for `AbortSignal.timeout`). */
  signal?: AbortSignal
}

/** Brand carried by every Sender implementation. */
export const SENDER: unique symbol = Symbol.for('libswarm.sender') as never
/** Brand carried by every Receiver implementation. */
export const RECEIVER: unique symbol = Symbol.for('libswarm.receiver') as never

/** The sending end of a channel. */
export interface Sender<T = unknown> {
  readonly [SENDER]: true
  /**
   * Sends one value. Resolves when the value is accepted into the channel's bounded buffer; while the
   * buffer is full, waits. Rejects with ChannelClosedError once the channel is closed or its receiver
   * has stopped reading, and with the abort error if the channel was aborted.
   */
  send(value: T, options?: OperationOptions): Promise<void>
  /** Graceful end: the receiver gets every value sent before, then the end. Idempotent. */
  close(): Promise<void>
  /**
   * Ends the channel with an error. Values already accepted are still delivered; then the receiver's
   * calls reject with ChannelAbortedError carrying `reason`. Sends still waiting for room reject.
   */
  abort(reason?: unknown): void
  /**
   * Resolves once this channel takes no more values: it was closed or aborted, or its receiver
   * stopped reading. Never rejects. Forwarders race it to notice a destination that went away.
   */
  readonly closed: Promise<void>
  /** Same as {@link Sender.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** The receiving end of a channel: `receive()` one value at a time, or `for await` over it. */
export interface Receiver<T = unknown> extends AsyncIterable<T> {
  readonly [RECEIVER]: true
  /**
   * Resolves with the next value. Rejects with ChannelClosedError at the end of the channel, with
   * ChannelAbortedError if the sender aborted, with AbortError if `signal` fires.
   */
  receive(options?: OperationOptions): Promise<T>
  /**
   * Stops reading: buffered values are dropped and the sender's waiting and later sends reject with
   * ChannelClosedError. Leaving a `for await` loop early calls this. Idempotent.
   */
  cancel(reason?: unknown): void
  /** Same as {@link Receiver.cancel}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** True if `value` is a channel Sender (of any implementation). */
export function isSender(value: unknown): value is Sender {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SENDER] === true
}

/** True if `value` is a channel Receiver (of any implementation). */
export function isReceiver(value: unknown): value is Receiver {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[RECEIVER] === true
}
