/**
 * Helpers for a transport's own link-level tests (not part of the suite): start a Link and record
 * what it receives, wait (bounded) for bytes, end, close and drain, and take the next accepted link.
 */
import type { Link, LinkListener } from '@libswarm/core'

/** Records a link's events; every wait is bounded. */
export interface Recorded {
  link: Link
  /** Bytes received so far. */
  bytes(): Buffer
  /** Resolves once at least `n` bytes arrived. */
  waitBytes(n: number, ms?: number): Promise<Buffer>
  /** Resolves on `end` (or rejects after `ms`). */
  ended: (ms?: number) => Promise<void>
  /** Resolves on `close` or `error` with what happened. */
  finished: (ms?: number) => Promise<{ kind: 'close' | 'error'; error?: Error }>
  drains: number
}

/** Starts `link` and records what it receives; every wait it offers is bounded. */
export function record(link: Link): Recorded {
  const chunks: Buffer[] = []
  let total = 0
  const byteWaiters: Array<{ n: number; resolve: () => void }> = []
  let endResolve!: () => void
  const endP = new Promise<void>((r) => (endResolve = r))
  let finResolve!: (v: { kind: 'close' | 'error'; error?: Error }) => void
  const finP = new Promise<{ kind: 'close' | 'error'; error?: Error }>((r) => (finResolve = r))
  const rec: Recorded = {
    link,
    bytes: () => Buffer.concat(chunks),
    waitBytes: async (n, ms = 5000) => {
      if (total < n) {
        await within(
          new Promise<void>((resolve) => byteWaiters.push({ n, resolve })),
          ms,
          `${n} bytes (have ${total})`,
        )
      }
      return Buffer.concat(chunks)
    },
    ended: (ms = 5000) => within(endP, ms, 'end'),
    finished: (ms = 5000) => within(finP, ms, 'close or error'),
    drains: 0,
  }
  link.start({
    data(chunk) {
      chunks.push(Buffer.from(chunk))
      total += chunk.byteLength
      for (let i = byteWaiters.length - 1; i >= 0; i--) {
        const w = byteWaiters[i]!
        if (total >= w.n) {
          byteWaiters.splice(i, 1)
          w.resolve()
        }
      }
    },
    end: () => endResolve(),
    error: (error) => finResolve({ kind: 'error', error }),
    drain: () => {
      rec.drains++
    },
    close: () => finResolve({ kind: 'close' }),
  })
  return rec
}

/** The next link a listener hands out, bounded. */
export async function accept(listener: LinkListener, ms = 5000): Promise<Link> {
  const it = listener[Symbol.asyncIterator]()
  const next = await within(it.next(), ms, 'an incoming link')
  if (next.done) throw new Error('listener ended')
  return next.value
}

/** A link started by {@link drive}. */
export interface Driven {
  link: Link
  chunks: Uint8Array[]
  /** Resolves when the peer ended its side. */
  ended: Promise<void>
  /** Resolves with the terminal event: `close` (undefined) or the error. */
  finished: Promise<Error | undefined>
  /** Resolves at the next `drain`. */
  drained(): Promise<void>
  received(): Buffer
}

/** Starts `link` and records what it receives, with promises for its end, its terminal event and drains. */
export function drive(link: Link): Driven {
  const chunks: Uint8Array[] = []
  let onEnd!: () => void
  let onFinish!: (error: Error | undefined) => void
  const ended = new Promise<void>((resolve) => (onEnd = resolve))
  const finished = new Promise<Error | undefined>((resolve) => (onFinish = resolve))
  let drainWaiters: Array<() => void> = []
  link.start({
    data: (chunk) => chunks.push(Buffer.from(chunk)),
    end: onEnd,
    error: (error) => onFinish(error),
    close: () => onFinish(undefined),
    drain: () => {
      const waiters = drainWaiters
      drainWaiters = []
      for (const w of waiters) w()
    },
  })
  return {
    link,
    chunks,
    ended,
    finished,
    drained: () => new Promise<void>((resolve) => drainWaiters.push(resolve)),
    received: () => Buffer.concat(chunks),
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

/** Writes `total` bytes of a known pattern, honouring backpressure. */
export async function writeAll(d: Driven, total: number, chunkSize = 64 * 1024): Promise<void> {
  const chunk = pattern(chunkSize)
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunkSize, total - sent)
    const ok = d.link.write(n === chunkSize ? chunk : chunk.subarray(0, n))
    sent += n
    if (!ok) await within(d.drained(), 10_000, 'drain')
  }
}

/** `size` bytes of a fixed pattern (byte i is `(7i + 3) & 0xff`), to check what arrives. */
export function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + 3) & 0xff
  return out
}
