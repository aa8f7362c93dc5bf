import type { Socket } from 'node:net'
import type { Link, LinkHandlers, PeerInfo } from '@libswarm/core'

/**
 * A {@link Link} over a connected `net.Socket`.
 *
 * Writes made in one turn of the event loop are corked together and flushed with one `writev`
 * on the next microtask, so many small frames become one syscall. Events follow the Link contract:
 * `error` is terminal (no `close` after it), `close` comes once.
 */
export class SocketLink implements Link {
  readonly peer: PeerInfo
  readonly canPassFds = false
  readonly #socket: Socket
  readonly #describe: (error: Error) => Error
  #handlers: LinkHandlers | undefined
  #corked = false
  #done = false

  /** The underlying socket (for diagnostics; the session only uses the Link methods). */
  get socket(): Socket {
    return this.#socket
  }

  constructor(socket: Socket, peer: PeerInfo, describe: (error: Error) => Error = (e) => e) {
    this.#socket = socket
    this.peer = peer
    this.#describe = describe
    // Until start(), keep what arrives in the socket's own buffer (a socket without a 'data'
    // listener stays paused) and remember a failure so start() can report it.
    socket.on('error', () => {})
  }

  start(handlers: LinkHandlers): void {
    if (this.#handlers) throw new Error('Link.start() was called twice')
    this.#handlers = handlers
    const socket = this.#socket
    socket.on('data', (chunk: Buffer) => {
      if (!this.#done) handlers.data(chunk)
    })
    socket.on('end', () => {
      if (!this.#done) handlers.end()
    })
    socket.on('drain', () => {
      if (!this.#done) handlers.drain()
    })
    socket.on('error', (error: Error) => {
      if (this.#done) return
      this.#done = true
      handlers.error(this.#describe(error))
    })
    socket.on('close', () => {
      if (this.#done) return
      this.#done = true
      handlers.close()
    })
    if (socket.destroyed) {
      queueMicrotask(() => {
        if (this.#done) return
        this.#done = true
        const error = (socket as { errored?: Error | null }).errored
        if (error) handlers.error(this.#describe(error))
        else handlers.close()
      })
    }
  }

  write(chunk: Uint8Array, fds?: number[]): boolean {
    if (fds !== undefined && fds.length > 0) {
      throw new TypeError(`[transport-${this.peer.transport}] this link cannot pass file descriptors`)
    }
    this.#cork()
    return this.#socket.write(chunk)
  }

  writev(chunks: Uint8Array[]): boolean {
    this.#cork()
    let ok = true
    for (const chunk of chunks) ok = this.#socket.write(chunk)
    return ok
  }

  end(): void {
    this.#socket.end()
  }

  destroy(_error?: Error): void {
    // The caller knows its own reason; the handlers see `close`, not their own error echoed back.
    this.#socket.destroy()
  }

  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    // Before start() there is no 'data' listener: resuming then would drop bytes.
    if (this.#handlers) this.#socket.resume()
  }

  #cork(): void {
    if (this.#corked) return
    this.#corked = true
    this.#socket.cork()
    queueMicrotask(() => {
      this.#corked = false
      this.#socket.uncork()
    })
  }
}
