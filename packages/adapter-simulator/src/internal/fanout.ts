import { LimitExceededError, pipe, type Receiver, type Sender } from '@libswarm/core'

/** How many values one subscriber may fall behind before it is dropped. */
export const MAX_BACKLOG = 1024

interface Subscriber<T> {
  readonly sender: Sender<T>
  readonly queue: T[]
  pumping: boolean
  closing: boolean
}

/**
 * Delivers values to many subscribers (watchers, attached outputs) without letting a slow one hold
 * up the host or the others: each has its own queue, bounded by {@link MAX_BACKLOG}; one that falls
 * further behind is aborted with LimitExceededError. A subscriber that stops reading is forgotten.
 */
export class Fanout<T> {
  private readonly subscribers = new Set<Subscriber<T>>()

  get size(): number {
    return this.subscribers.size
  }

  /** A new subscription: it receives every value published from now on, in order. */
  subscribe(initial: readonly T[] = []): Receiver<T> {
    const [receiver, sender] = pipe<T>({ highWaterMark: 16 })
    const subscriber: Subscriber<T> = { sender, queue: [...initial], pumping: false, closing: false }
    this.subscribers.add(subscriber)
    void sender.closed.then(() => this.subscribers.delete(subscriber))
    if (subscriber.queue.length > 0) void this.pump(subscriber)
    return receiver
  }

  publish(value: T): void {
    for (const subscriber of this.subscribers) {
      if (subscriber.queue.length >= MAX_BACKLOG) {
        this.subscribers.delete(subscriber)
        subscriber.queue.length = 0
        subscriber.sender.abort(
          new LimitExceededError(
            'backlog',
            `[adapter-simulator] a subscriber fell more than ${MAX_BACKLOG} messages behind and was dropped; read faster, or subscribe again`,
          ),
        )
        continue
      }
      subscriber.queue.push(value)
      if (!subscriber.pumping) void this.pump(subscriber)
    }
  }

  /** Ends every subscription gracefully, once what is queued for it is delivered. */
  close(): void {
    for (const subscriber of this.subscribers) {
      subscriber.closing = true
      if (!subscriber.pumping) void subscriber.sender.close()
    }
    this.subscribers.clear()
  }

  private async pump(subscriber: Subscriber<T>): Promise<void> {
    subscriber.pumping = true
    try {
      while (subscriber.queue.length > 0) await subscriber.sender.send(subscriber.queue.shift() as T)
    } catch {
      // The subscriber stopped reading; forget it.
      this.subscribers.delete(subscriber)
      subscriber.queue.length = 0
    } finally {
      subscriber.pumping = false
    }
    if (subscriber.closing) await subscriber.sender.close()
  }
}
