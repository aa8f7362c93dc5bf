import { type OperationOptions, RECEIVER, type Receiver } from '../../channel.ts'
import { receiverIterator } from '../../pipe.ts'

/** What `map` returns to drop a value. */
export const SKIP: unique symbol = Symbol('skip')

/**
 * A Receiver whose values are `map(value)` of another's (values mapped to {@link SKIP} are dropped). `map` may throw to end the stream with an
 * error (the source is then cancelled).
 */
export class MappedReceiver<S, T> implements Receiver<T> {
  declare readonly [RECEIVER]: true
  #error: unknown
  #failed = false
  constructor(
    private readonly source: Receiver<S>,
    private readonly map: (value: S) => T | typeof SKIP,
  ) {}

  async receive(options?: OperationOptions): Promise<T> {
    if (this.#failed) throw this.#error
    for (;;) {
      const value = await this.source.receive(options)
      let mapped: T | typeof SKIP
      try {
        mapped = this.map(value)
      } catch (error) {
        this.#failed = true
        this.#error = error
        this.source.cancel(error)
        throw error
      }
      if (mapped !== SKIP) return mapped
    }
  }

  cancel(reason?: unknown): void {
    this.source.cancel(reason)
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.source.cancel()
    return Promise.resolve()
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return receiverIterator(this)
  }
}
Object.defineProperty(MappedReceiver.prototype, RECEIVER, { value: true })
