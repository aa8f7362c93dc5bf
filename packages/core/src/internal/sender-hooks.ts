/**
 * Optional fast paths that core's own Senders offer to core's forwarders (a session forwarding the
 * messages of a Sender it exported into that local Sender). Not public: a Sender without them is
 * used through `send` and `closed`, with the same results, only with a promise or two more per call.
 */

/**
 * `sender[TRY_SEND](value)`: accepts `value` now and returns true when `send(value)` would resolve
 * at once (the channel is open and has room); else changes nothing and returns false, and the
 * caller uses `send`.
 */
export const TRY_SEND: unique symbol = Symbol('libswarm.trySend')

/**
 * `sender[ON_CLOSED](listener)`: calls `listener.senderClosed()` once, when the Sender's `closed`
 * promise would resolve (in a microtask when it already has). Saves a promise, its reaction and a
 * closure per forwarded Sender.
 */
export const ON_CLOSED: unique symbol = Symbol('libswarm.onClosed')

/** Told once when a Sender takes no more values. */
export interface ClosedListener {
  senderClosed(): void
}

/** A Sender that offers the fast paths. */
export interface FastSender<T> {
  [TRY_SEND](value: T): boolean
  [ON_CLOSED](listener: ClosedListener): void
}

/** True when `sender` offers {@link TRY_SEND} and {@link ON_CLOSED}. */
export function isFastSender<T>(sender: object): sender is FastSender<T> {
  return typeof (sender as Partial<FastSender<T>>)[TRY_SEND] === 'function'
}
