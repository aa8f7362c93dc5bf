/**
 * Adapts a Node Duplex (a `net.Socket`, a TLS socket, an HTTP/2 stream, ...) to a {@link Link}.
 * Only Node *types* are imported, so this module stays loadable in a browser bundle.
 */
import type { Duplex } from 'node:stream'
import type { Link, LinkHandlers, PeerInfo } from '../transport.ts'

/** Options of {@link duplexLink}. */
export interface DuplexLinkOptions {
  /** Set TCP_NODELAY when the stream is a socket (writes are coalesced by the session). Default: true. */
  noDelay?: boolean
}

/**
 * Wraps a Node Duplex as a Link: `writev` uses cork/uncork so a batch of frames becomes one syscall,
 * `pause`/`resume` pass backpressure to the OS socket.
 *
 * @example
 * const socket = net.connect(port, '127.0.0.1')
 * await once(socket, 'connect')
 * const session = await createSession(duplexLink(socket, { transport: 'tcp', address: `127.0.0.1:${port}` }), { role: 'client' })
 */
export function duplexLink(duplex: Duplex, peer: PeerInfo, options: DuplexLinkOptions = {}): Link {
  const socketLike = duplex as Duplex & { setNoDelay?: (noDelay: boolean) => unknown }
  if ((options.noDelay ?? true) && typeof socketLike.setNoDelay === 'function') socketLike.setNoDelay(true)
  // Buffer events until start(): data that arrives before the session is ready is kept.
  duplex.pause()
  let handlers: LinkHandlers | undefined
  // The Link contract: `end` at most once, and nothing after `error` or `close`.
  let endReported = false
  let terminal = false
  return {
    peer,
    start(h) {
      if (handlers) throw new Error('duplexLink: start() may only be called once')
      handlers = h
      const end = () => {
        if (endReported || terminal) return
        endReported = true
        h.end()
      }
      const fail = (error: Error | null | undefined) => {
        if (terminal) return
        terminal = true
        if (error) h.error(error)
        else h.close()
      }
      duplex.on('data', (chunk: Buffer | string) => {
        if (!terminal) h.data(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk)
      })
      duplex.on('end', end)
      duplex.on('error', fail)
      duplex.on('drain', () => {
        if (!terminal) h.drain()
      })
      duplex.on('close', () => fail(undefined))
      duplex.resume()
      // Events that fired before start() had no listener: the peer may already have ended its side
      // (a TLS 1.3 server that refuses our certificate closes right after the handshake) or the
      // stream may be gone. Report that now, or the session waits for an event that never comes.
      if (duplex.readableEnded || duplex.destroyed) {
        queueMicrotask(() => {
          if (duplex.readableEnded) end()
          if (duplex.destroyed) fail(duplex.errored)
        })
      }
    },
    write(chunk) {
      if (duplex.destroyed || duplex.writableEnded) return true
      return duplex.write(chunk)
    },
    writev(chunks) {
      if (duplex.destroyed || duplex.writableEnded) return true
      duplex.cork()
      let ok = true
      for (const chunk of chunks) ok = duplex.write(chunk)
      duplex.uncork()
      return ok
    },
    end() {
      if (!duplex.destroyed && !duplex.writableEnded) duplex.end()
    },
    destroy(error) {
      duplex.destroy(error)
    },
    pause() {
      duplex.pause()
    },
    resume() {
      duplex.resume()
    },
  }
}
