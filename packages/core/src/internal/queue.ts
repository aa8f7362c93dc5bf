/**
 * The FIFO and the waiter bookkeeping shared by the in-memory pipe and the session: callers park a
 * promise in a queue, optionally cancellable by an AbortSignal.
 */
import { abortErrorFrom } from '../errors.ts'

const NOTHING: readonly never[] = Object.freeze([])

/** A FIFO with amortised O(1) shift. */
export class Queue<T> {
  private items: (T | undefined)[] = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(item: T): void {
    this.items.push(item)
  }

  peek(): T | undefined {
    return this.items[this.head]
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  remove(item: T): void {
    const index = this.items.indexOf(item, this.head)
    if (index >= 0) this.items.splice(index, 1)
  }

  /** Empties the queue; returns what it held (a shared empty array when it held nothing: read only). */
  clear(): readonly T[] {
    if (this.head >= this.items.length) {
      this.items.length = 0
      this.head = 0
      return NOTHING as readonly T[]
    }
    const rest = this.items.slice(this.head) as T[]
    this.items = []
    this.head = 0
    return rest
  }
}

/** A parked caller: settle it with `resolve`/`reject` after {@link settle}. */
export interface Waiter<T> {
  resolve(value: T): void
  reject(error: unknown): void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Makes `waiter` leave `queue` and reject with the abort error when its signal fires. */
export function listen<W extends Waiter<any>>(waiter: W, queue: Queue<W>): void {
  const signal = waiter.signal
  if (!signal) return
  waiter.onAbort = () => {
    queue.remove(waiter)
    waiter.reject(abortErrorFrom(signal))
  }
  signal.addEventListener('abort', waiter.onAbort, { once: true })
}

/** Parks a caller in `queue` until someone settles it (or `signal` fires). */
export function waitOn<T>(queue: Queue<Waiter<T>>, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const waiter: Waiter<T> = { resolve, reject, signal, onAbort: undefined }
    queue.push(waiter)
    listen(waiter, queue)
  })
}

/** Detaches `waiter` from its signal; returns it, ready to resolve or reject. */
export function settle<W extends Waiter<any>>(waiter: W): W {
  if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort)
  return waiter
}
