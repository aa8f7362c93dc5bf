import type { OperationOptions, Receiver, Sender } from './channel.ts'
import { ChannelClosedError } from './errors.ts'

/** Options of {@link copy}. */
export interface CopyOptions extends OperationOptions {
  /** Close `dst` when `src` ends. Default: true. */
  close?: boolean
}

/**
 * Sends every value received on `src` to `dst`, in order and under `dst`'s backpressure, until `src`
 * ends; then closes `dst` (unless `close: false`). Resolves with the number of values copied.
 *
 * If `src` is aborted, `dst` is aborted with the same reason (after what was already copied) and the
 * error is rethrown. If `dst` stops accepting values (its receiver stopped reading, or someone else
 * closed it), `src` is cancelled and copy rejects with ChannelClosedError, even while it was waiting
 * on `src`.
 */
export async function copy<T>(dst: Sender<T>, src: Receiver<T>, options: CopyOptions = {}): Promise<number> {
  const { close = true } = options
  const gone = new AbortController()
  let finished = false
  dst.closed.then(() => {
    if (!finished) {
      gone.abort(
        new ChannelClosedError(
          'copy: the destination stopped accepting values (closed, or its receiver stopped reading)',
        ),
      )
    }
  })
  const signal = options.signal ? AbortSignal.any([options.signal, gone.signal]) : gone.signal
  let count = 0
  try {
    for (;;) {
      let value: T
      try {
        value = await src.receive({ signal })
      } catch (error) {
        if (gone.signal.aborted) {
          src.cancel(error)
          throw gone.signal.reason
        }
        if (error instanceof ChannelClosedError) break
        if (!options.signal?.aborted) dst.abort(error)
        throw error
      }
      try {
        await dst.send(value, { signal })
      } catch (error) {
        src.cancel(error)
        throw error
      }
      count++
    }
  } finally {
    finished = true
  }
  if (close) await dst.close()
  return count
}
