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

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const signal = AbortSignal.timeout(ms)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

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
        await bounded(
          new Promise<void>((resolve) => byteWaiters.push({ n, resolve })),
          ms,
          `${n} bytes (have ${total})`,
        )
      }
      return Buffer.concat(chunks)
    },
    ended: (ms = 5000) => bounded(endP, ms, 'end'),
    finished: (ms = 5000) => bounded(finP, ms, 'close or error'),
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
  const next = await bounded(it.next(), ms, 'an incoming link')
  if (next.done) throw new Error('listener ended')
  return next.value
}
