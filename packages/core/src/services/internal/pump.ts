import { closeQuietly, errorMessage, replyAndClose } from '../reply.ts'
import type { Message, Service } from '../types.ts'

const STOPPED: unique symbol = Symbol('stopped')

/**
 * Sends every item of `source` (mapped) on `ret` until the source ends, `signal` fires or the
 * caller goes away; a failing source ends the stream with an `Error` message. Then closes `ret`.
 */
export async function pump<T>(
  source: AsyncIterable<T>,
  ret: Service,
  map: (item: T) => Message,
  signal: AbortSignal,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]()
  let stop: (() => void) | undefined
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    stop = () => resolve(STOPPED)
    if (signal.aborted) resolve(STOPPED)
    else signal.addEventListener('abort', stop, { once: true })
  })
  let failure: unknown
  let failed = false
  try {
    for (;;) {
      const next = iterator.next()
      const result = await Promise.race([next, stopped])
      if (result === STOPPED) {
        next.catch(() => {})
        break
      }
      if (result.done) break
      await ret.send(map(result.value), { signal })
    }
  } catch (error) {
    if (!signal.aborted) {
      failed = true
      failure = error
    }
  } finally {
    signal.removeEventListener('abort', stop!)
    Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => {})
  }
  if (failed) await replyAndClose(ret, errorMessage(failure))
  else await closeQuietly(ret)
}
