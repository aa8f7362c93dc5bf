import { constants, type Http2Stream } from 'node:http2'
import type { Readable } from 'node:stream'
import { type Link, type LinkHandlers, type PeerInfo, SessionClosedError } from '@libswarm/core'

/**
 * Adapts one HTTP/2 stream (the request body one way, the response body the other) to a {@link Link}.
 * The stream's half-closes map onto the link's: `end()` sends END_STREAM, the peer's END_STREAM is
 * `end`. A reset (RST_STREAM, a lost connection) is `error`; a clean finish of both directions is
 * `close`. Exactly one of `error` and `close` is delivered, once.
 *
 * `source` is where the incoming bytes are read from: the stream itself, or the compatibility-API
 * request (`Http2ServerRequest`) that already listens to the stream's data.
 */
export function streamLink(
  stream: Http2Stream,
  peer: PeerInfo,
  describe: string,
  onFinished?: () => void,
  source: Readable = stream,
): Link {
  let handlers: LinkHandlers | undefined
  let early: Error | undefined
  let ended = false
  let done = false
  let corked = false
  // Writes made in one turn are corked together and flushed on the next microtask: many small
  // frames become few DATA frames.
  const cork = (): void => {
    if (corked) return
    corked = true
    stream.cork()
    queueMicrotask(() => {
      corked = false
      stream.uncork()
    })
  }

  const finish = (error?: Error): void => {
    if (done) return
    done = true
    if (handlers) {
      if (error) handlers.error(error)
      else handlers.close()
    }
    onFinished?.()
  }

  stream.on('error', (error: Error) => {
    const wrapped = new SessionClosedError(
      `[transport-http2] the stream to ${describe} failed: ${error.message}`,
      {
        cause: error,
      },
    )
    if (handlers) finish(wrapped)
    else early ??= wrapped
  })
  stream.on('close', () => {
    if (!handlers) {
      early ??= closeError(stream, describe, ended)
      return
    }
    if (early) return finish(early)
    finish(closeError(stream, describe, ended))
  })

  return {
    peer,
    start(h) {
      if (handlers) throw new Error('[transport-http2] Link.start called twice')
      handlers = h
      source.on('data', (chunk: Uint8Array) => {
        if (!done) h.data(chunk)
      })
      const onEnd = (): void => {
        ended = true
        if (done) return
        // A reset stream also ends its readable side: that is the link failing, not the peer's end.
        const code = stream.rstCode
        if (code !== undefined && code !== constants.NGHTTP2_NO_ERROR) {
          finish(closeError(stream, describe, false))
          return
        }
        h.end()
      }
      source.on('end', onEnd)
      stream.on('drain', () => {
        if (!done) h.drain()
      })
      // It ended before the session started: report how. A peer that only ended its side then
      // (its 'end' fired with no listener) is reported as that end.
      if (stream.closed) {
        queueMicrotask(() => finish(early ?? closeError(stream, describe, ended || source.readableEnded)))
      } else if (source.readableEnded) queueMicrotask(onEnd)
    },
    canPassFds: false,
    write(chunk, fds) {
      if (fds !== undefined && fds.length > 0) {
        throw new TypeError('[transport-http2] this link cannot pass file descriptors')
      }
      if (done || !stream.writable) return false
      cork()
      return stream.write(chunk)
    },
    writev(chunks) {
      if (done || !stream.writable) return false
      cork()
      let ok = true
      for (const chunk of chunks) ok = stream.write(chunk)
      return ok
    },
    end() {
      if (!done && stream.writable) stream.end()
    },
    destroy(error) {
      if (done) return
      if (!stream.destroyed) {
        stream.close(error ? constants.NGHTTP2_INTERNAL_ERROR : constants.NGHTTP2_CANCEL)
      }
      finish()
    },
    pause() {
      source.pause()
    },
    resume() {
      // Before start() there is no 'data' listener: resuming then would drop bytes.
      if (handlers) source.resume()
    },
  }
}

/** What a closed stream means: a clean close when the peer ended and nothing was reset, else an error. */
function closeError(stream: Http2Stream, describe: string, ended: boolean): Error | undefined {
  const code = stream.rstCode
  // The peer ended its side and nothing was reset (a server may finish with RST_STREAM NO_ERROR).
  if (ended && (code === undefined || code === constants.NGHTTP2_NO_ERROR)) return undefined
  const reason =
    code === undefined || code === constants.NGHTTP2_NO_ERROR
      ? 'the connection was lost'
      : `the stream was reset (HTTP/2 error code ${code}${code === constants.NGHTTP2_CANCEL ? ', CANCEL' : ''})`
  return new SessionClosedError(`[transport-http2] the link to ${describe} ended abruptly: ${reason}`)
}
