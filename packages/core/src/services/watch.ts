import type { Receiver, Sender } from '../channel.ts'
import { LimitExceededError } from '../errors.ts'
import { pipe } from '../pipe.ts'
import { MappedReceiver } from './internal/map-receiver.ts'
import type { WatchEvent } from './types.ts'

/** Options of {@link WatchHub}. */
export interface WatchHubOptions {
  /** Events buffered per watcher; a watcher that falls further behind is ended with LimitExceededError. Default: 256. */
  highWaterMark?: number
}

interface Subscriber {
  sender: Sender<WatchEvent>
  /** Published and not yet received. */
  queued: number
}

/**
 * Fans change events out to any number of watchers, with bounded memory: what an adapter's
 * `onWatch` returns is `hub.subscribe(context.signal)`, and every change calls `hub.publish(event)`.
 * Publishing never waits; a watcher more than `highWaterMark` events behind is ended with
 * LimitExceededError (its client sees an `Error` and can watch again).
 *
 * @example
 * const hub = new WatchHub()
 * const server = new Server({ onWatch: (_args, context) => hub.subscribe(context.signal) })
 * hub.publish({ type: 'start', name: 'web' })
 */
export class WatchHub {
  readonly #subscribers = new Set<Subscriber>()
  readonly #highWaterMark: number

  constructor(options: WatchHubOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? 256
  }

  /** How many watchers are subscribed. */
  get size(): number {
    return this.#subscribers.size
  }

  /** Sends `event` (with `time` set to now if missing) to every watcher. Never waits. */
  publish(event: WatchEvent): void {
    const stamped = typeof event.time === 'string' ? event : { ...event, time: new Date().toISOString() }
    for (const subscriber of this.#subscribers) {
      if (subscriber.queued >= this.#highWaterMark) {
        this.#subscribers.delete(subscriber)
        subscriber.sender.abort(
          new LimitExceededError(
            'watchHighWaterMark',
            `watcher fell more than ${this.#highWaterMark} events behind and was dropped; watch again`,
          ),
        )
        continue
      }
      subscriber.queued++
      subscriber.sender.send(stamped).catch(() => this.#subscribers.delete(subscriber))
    }
  }

  /** A new watcher of the events published from now on. Ends when `signal` fires, when cancelled, or on {@link close}. */
  subscribe(signal?: AbortSignal): Receiver<WatchEvent> {
    const [receiver, sender] = pipe<WatchEvent>({ highWaterMark: this.#highWaterMark })
    const subscriber: Subscriber = { sender, queued: 0 }
    const counted = new MappedReceiver(receiver, (event: WatchEvent) => {
      subscriber.queued--
      return event
    })
    if (signal?.aborted) {
      void sender.close()
      return counted
    }
    this.#subscribers.add(subscriber)
    const end = () => {
      this.#subscribers.delete(subscriber)
      void sender.close()
    }
    signal?.addEventListener('abort', end, { once: true })
    sender.closed.then(() => {
      this.#subscribers.delete(subscriber)
      signal?.removeEventListener('abort', end)
    })
    return counted
  }

  /** Ends every watcher. */
  close(): void {
    for (const subscriber of this.#subscribers) void subscriber.sender.close()
    this.#subscribers.clear()
  }
}
