import type { Link, LinkListener, ListenOptions } from '../transport.ts'

/**
 * A {@link LinkListener} fed by a server's accept callback: accepted links queue until iterated.
 * Closing ends iteration; links accepted but not yet handed out are destroyed.
 */
export class QueueListener implements LinkListener {
  readonly url: URL
  readonly #queue: Link[] = []
  readonly #waiters: Array<(result: IteratorResult<Link>) => void> = []
  readonly #stop: () => Promise<void>
  #closed = false
  #closing: Promise<void> | undefined

  constructor(url: URL, stop: () => Promise<void>) {
    this.url = url
    this.#stop = stop
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** Hands an accepted link to the next iterator, or queues it. */
  push(link: Link): void {
    if (this.#closed) {
      link.destroy()
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) waiter({ value: link, done: false })
    else this.#queue.push(link)
  }

  /**
   * Hands `link` on like {@link push} once `authenticate` (a listen option) accepts its peer; a
   * refused peer, or a check that throws, has its link destroyed. Without `authenticate`, pushes.
   */
  admit(link: Link, authenticate?: ListenOptions['authenticate']): void {
    if (!authenticate) {
      this.push(link)
      return
    }
    Promise.resolve()
      .then(() => authenticate(link.peer))
      .then(
        (ok) => (ok ? this.push(link) : link.destroy()),
        () => link.destroy(),
      )
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true })
    for (const link of this.#queue.splice(0)) link.destroy()
    this.#closing = this.#stop()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  [Symbol.asyncIterator](): AsyncIterator<Link> {
    return {
      next: () => {
        if (this.#closed) return Promise.resolve({ value: undefined, done: true })
        const link = this.#queue.shift()
        if (link) return Promise.resolve({ value: link, done: false })
        return new Promise((resolve) => this.#waiters.push(resolve))
      },
      return: async () => {
        await this.close()
        return { value: undefined, done: true }
      },
    }
  }
}
