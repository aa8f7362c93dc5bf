import type { Socket } from 'node:net'
import { duplexLink } from '../session/duplex-link.ts'
import type { Link, PeerInfo } from '../transport.ts'

/** A Link over a connected socket, with the socket at hand for diagnostics. */
export type SocketLink = Link & { readonly socket: Socket }

/**
 * A {@link Link} over a connected `net.Socket`, built on core's `duplexLink`, adding:
 * - writes made in one turn of the event loop are corked together and leave with one `writev` on
 *   the next microtask (many small frames, one syscall);
 * - socket errors are described (`describe`) so the session reports what failed and where;
 * - the Link contract's terminal events: nothing after `error` or `close`, and a socket that failed
 *   before `start()` neither crashes the process nor goes unreported.
 */
export function socketLink(
  socket: Socket,
  peer: PeerInfo,
  describe: (error: Error) => Error = (error) => error,
  /**
   * Called when the peer ends the link before sending a single byte; an error returned is reported
   * instead of `end` (a TLS server that refused our certificate just closes). Default: none.
   */
  earlyEnd?: () => Error | undefined,
): SocketLink {
  // Until start(), an error (say, a reset while the link waits in the listener's queue) must not
  // become an uncaught 'error' event; start() reports it.
  socket.on('error', () => {})
  const inner = duplexLink(socket, peer)
  let started = false
  let done = false
  let corked = false
  let received = false
  const cork = () => {
    if (corked) return
    corked = true
    socket.cork()
    queueMicrotask(() => {
      corked = false
      socket.uncork()
    })
  }
  return {
    peer,
    canPassFds: false,
    socket,
    start(handlers) {
      if (started) throw new Error('Link.start() was called twice')
      started = true
      inner.start({
        data: (chunk) => {
          received = true
          if (!done) handlers.data(chunk)
        },
        end: () => {
          if (done) return
          const error = received ? undefined : earlyEnd?.()
          if (!error) {
            handlers.end()
            return
          }
          done = true
          socket.destroy()
          handlers.error(error)
        },
        drain: () => {
          if (!done) handlers.drain()
        },
        error: (error) => {
          if (done) return
          done = true
          handlers.error(describe(error))
        },
        close: () => {
          if (done) return
          done = true
          handlers.close()
        },
      })
    },
    write(chunk, fds) {
      if (fds !== undefined && fds.length > 0) {
        throw new TypeError(`[transport-${peer.transport}] this link cannot pass file descriptors`)
      }
      cork()
      return inner.write(chunk)
    },
    writev(chunks) {
      cork()
      if (inner.writev) return inner.writev(chunks)
      let ok = true
      for (const chunk of chunks) ok = inner.write(chunk)
      return ok
    },
    end() {
      inner.end()
    },
    destroy() {
      // The caller knows its own reason; the handlers see `close`, not their own error echoed back.
      inner.destroy()
    },
    pause() {
      inner.pause?.()
    },
    resume() {
      if (started) inner.resume?.()
    },
  }
}
