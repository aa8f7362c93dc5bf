/**
 * Optional fast paths that core's own Senders (the in-memory pipe's, a session's) offer to core's
 * forwarders, services and clients. Not public: a Sender without them is used through `send` and
 * `closed`, with the same results, only with a promise or two more per call.
 */
import type { Sender } from '../channel.ts'

/**
 * `sender[TRY_SEND](value)`: accepts `value` now and returns true when `send(value)` would resolve
 * at once (the channel is open and has room); else changes nothing and returns false, and the
 * caller uses `send`. Throws what `send` would reject with when `value` itself is refused (it cannot
 * be encoded, it is too large).
 */
export const TRY_SEND: unique symbol = Symbol('libswarm.trySend')

/**
 * `sender[ON_CLOSED](listener)`: calls `listener.senderClosed()` once, when the Sender's `closed`
 * promise would resolve (in a microtask when it already has). Saves a promise, its reaction and a
 * closure per watched Sender.
 */
export const ON_CLOSED: unique symbol = Symbol('libswarm.onClosed')

/** Told once when a Sender takes no more values. */
export interface ClosedListener {
  senderClosed(): void
}

/** A Sender that offers {@link TRY_SEND}. */
export interface TrySender<T> {
  [TRY_SEND](value: T): boolean
}

/** True when `sender` offers {@link TRY_SEND}. */
export function canTrySend<T>(sender: object): sender is TrySender<T> {
  return typeof (sender as Partial<TrySender<T>>)[TRY_SEND] === 'function'
}

/** Tells `listener` once `sender` takes no more values: through {@link ON_CLOSED}, else `closed`. */
export function whenClosed(sender: Sender<any>, listener: ClosedListener): void {
  const hook = (sender as { [ON_CLOSED]?: (listener: ClosedListener) => void })[ON_CLOSED]
  if (typeof hook === 'function') hook.call(sender, listener)
  else sender.closed.then(() => listener.senderClosed())
}

/**
 * Keeps the {@link ClosedListener}s of one Sender: usually one, so no array until a second.
 * `fire()` tells each once, in the order they came.
 */
export class ClosedListeners {
  private first: ClosedListener | undefined
  private more: ClosedListener[] | undefined

  add(listener: ClosedListener): void {
    if (!this.first) this.first = listener
    else (this.more ??= []).push(listener)
  }

  fire(): void {
    const first = this.first
    if (!first) return
    const more = this.more
    this.first = undefined
    this.more = undefined
    first.senderClosed()
    if (more) for (const listener of more) listener.senderClosed()
  }
}
