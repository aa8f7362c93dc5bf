/**
 * The FIFO and the waiter bookkeeping shared by the in-memory pipe and the session: callers park a
 * promise in a queue, optionally cancellable by an AbortSignal.
 */
import { abortErrorFrom } from '../errors.ts'

const NOTHING: readonly never[] = Object.freeze([])
/** The room of a queue that never held anything: shared, never written (push grows first). */
const NO_ROOM: never[] = []
/** A queue that emptied with more room than this gives its room back. */
const KEEP_CAPACITY = 1024

/**
 * A FIFO on a ring buffer (power-of-two capacity): push and shift are O(1) and never resize the
 * array in place (no `length` writes, which are slow calls in V8), so a queue that keeps going from
 * one item to none, like a channel's waiting reader, allocates nothing.
 */
export class Queue<T> {
  private items: (T | undefined)[] = NO_ROOM
  private head = 0
  private size = 0

  get length(): number {
    return this.size
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow()
    const items = this.items
    items[(this.head + this.size) & (items.length - 1)] = item
    this.size++
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head]
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined
    const items = this.items
    const item = items[this.head]
    items[this.head] = undefined
    this.size--
    if (this.size === 0) {
      this.head = 0
      if (items.length > KEEP_CAPACITY) this.items = NO_ROOM
    } else this.head = (this.head + 1) & (items.length - 1)
    return item
  }

  /** Takes `item` out (the first occurrence), keeping the order of the rest. */
  remove(item: T): void {
    const items = this.items
    const mask = items.length - 1
    for (let i = 0; i < this.size; i++) {
      if (items[(this.head + i) & mask] !== item) continue
      for (let j = i + 1; j < this.size; j++)
        items[(this.head + j - 1) & mask] = items[(this.head + j) & mask]
      items[(this.head + this.size - 1) & mask] = undefined
      this.size--
      if (this.size === 0) this.head = 0
      return
    }
  }

  /** Empties the queue; returns what it held (a shared empty array when it held nothing: read only). */
  clear(): readonly T[] {
    if (this.size === 0) return NOTHING as readonly T[]
    const rest = this.toArray()
    this.items = NO_ROOM
    this.head = 0
    this.size = 0
    return rest
  }

  private toArray(): T[] {
    const items = this.items
    const mask = items.length - 1
    const out = new Array<T>(this.size)
    for (let i = 0; i < this.size; i++) out[i] = items[(this.head + i) & mask] as T
    return out
  }

  private grow(): void {
    const old = this.items
    const mask = old.length - 1
    const items = new Array<T | undefined>(old.length === 0 ? 2 : old.length * 2)
    for (let i = 0; i < this.size; i++) items[i] = old[(this.head + i) & mask]
    this.items = items
    this.head = 0
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
