import type { Link } from '@libswarm/core'

/**
 * A bounded queue of accepted links that one or more consumers iterate. Links that were accepted
 * before `close()` are still delivered; then iteration ends.
 */
export class LinkQueue implements AsyncIterable<Link> {
  readonly #links: Link[] = []
  readonly #waiters: Array<(result: IteratorResult<Link>) => void> = []
  #closed = false

  constructor(readonly max: number) {}

  /** True when a link can be queued now. */
  get hasRoom(): boolean {
    return !this.#closed && (this.#waiters.length > 0 || this.#links.length < this.max)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Hands a link to a waiting consumer or queues it. Returns false (and leaves the link alone) when full or closed. */
  push(link: Link): boolean {
    if (this.#closed) return false
    const waiter = this.#waiters.shift()
    if (waiter) {
      waiter({ value: link, done: false })
      return true
    }
    if (this.#links.length >= this.max) return false
    this.#links.push(link)
    return true
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): AsyncIterator<Link> {
    return {
      next: () => {
        const link = this.#links.shift()
        if (link) return Promise.resolve({ value: link, done: false })
        if (this.#closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.#waiters.push(resolve))
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    }
  }
}
