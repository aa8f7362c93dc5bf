import {
  InvalidArgumentError,
  type Link,
  type LinkHandlers,
  type PeerInfo,
  UnavailableError,
} from '@libswarm/core'
import { Event, type FdPassAddon } from './native.ts'

/** Outgoing bytes above this make `write` return false until `drain`. */
const HIGH_WATER_MARK = 256 * 1024
/** The kernel's limit on descriptors in one message (SCM_MAX_FD). */
const MAX_FDS = 253
const EAGAIN = 11

interface Batch {
  chunks: Uint8Array[]
  /** Descriptors to send with the first byte of this batch; cleared once sent. */
  fds: number[] | undefined
  bytes: number
}

function errnoName(errno: number): string {
  const names: Record<number, string> = {
    32: 'EPIPE',
    104: 'ECONNRESET',
    9: 'EBADF',
    90: 'EMSGSIZE',
    111: 'ECONNREFUSED',
    2: 'ENOENT',
    13: 'EACCES',
  }
  return names[errno] ?? `errno ${errno}`
}

/**
 * A {@link Link} over a unix stream socket owned by the fd-passing addon: reads with recvmsg (so
 * descriptors that arrive are handed to `data` with the bytes they came with) and writes with
 * sendmsg (descriptors go with the first byte of the write that carries them).
 *
 * Writes of one turn are batched and flushed on a microtask with one sendmsg (an iovec per chunk).
 */
export class FdLink implements Link {
  readonly canPassFds = true
  readonly peer: PeerInfo
  readonly #addon: FdPassAddon
  readonly #handle: object
  #handlers: LinkHandlers | undefined
  readonly #batches: Batch[] = []
  #queued = 0
  #flushScheduled = false
  #waitingWritable = false
  #needDrain = false
  #paused = false
  #ending = false
  #writeEnded = false
  #readEnded = false
  #done = false

  constructor(addon: FdPassAddon, fd: number, peer: PeerInfo) {
    this.#addon = addon
    this.#handle = addon.open(fd, (event, a, b) => this.#onEvent(event, a, b))
    const credentials = addon.peerCredentials(this.#handle)
    this.peer = credentials && peer.identity === undefined ? { ...peer, identity: credentials } : peer
  }

  start(handlers: LinkHandlers): void {
    if (this.#handlers) throw new Error('Link.start() was called twice')
    this.#handlers = handlers
    if (this.#done) {
      queueMicrotask(() => handlers.close())
      return
    }
    this.#updatePoll()
  }

  write(chunk: Uint8Array, fds?: number[]): boolean {
    // Like duplexLink: after end/destroy, writes are dropped and never ask the caller to wait.
    if (this.#done || this.#ending) return true
    if (fds !== undefined && fds.length > 0) {
      if (chunk.byteLength === 0) {
        throw new InvalidArgumentError(
          '[transport-unix] file descriptors must be sent with at least one byte',
        )
      }
      if (fds.length > MAX_FDS) {
        throw new InvalidArgumentError(
          `[transport-unix] at most ${MAX_FDS} file descriptors can go with one write (got ${fds.length})`,
        )
      }
      this.#batches.push({ chunks: [chunk], fds: [...fds], bytes: chunk.byteLength })
    } else if (chunk.byteLength > 0) {
      const last = this.#batches[this.#batches.length - 1]
      if (last) {
        last.chunks.push(chunk)
        last.bytes += chunk.byteLength
      } else this.#batches.push({ chunks: [chunk], fds: undefined, bytes: chunk.byteLength })
    }
    this.#queued += chunk.byteLength
    this.#scheduleFlush()
    if (this.#queued >= HIGH_WATER_MARK) {
      this.#needDrain = true
      return false
    }
    return true
  }

  writev(chunks: Uint8Array[]): boolean {
    let ok = true
    for (const chunk of chunks) ok = this.write(chunk)
    return ok
  }

  end(): void {
    if (this.#done || this.#ending) return
    this.#ending = true
    this.#scheduleFlush()
  }

  destroy(_error?: Error): void {
    if (this.#done) return
    this.#finish()
    const handlers = this.#handlers
    // Like a Node socket: `close` comes on a later tick, never inside the destroy() call.
    if (handlers) setImmediate(() => handlers.close())
  }

  pause(): void {
    this.#paused = true
    this.#updatePoll()
  }

  resume(): void {
    this.#paused = false
    this.#updatePoll()
  }

  #updatePoll(): void {
    if (this.#done) return
    const readable = this.#handlers !== undefined && !this.#paused && !this.#readEnded
    this.#addon.setPoll(this.#handle, readable, this.#waitingWritable)
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#waitingWritable) return
    this.#flushScheduled = true
    queueMicrotask(() => {
      this.#flushScheduled = false
      this.#flush()
    })
  }

  #flush(): void {
    while (!this.#done && this.#batches.length > 0) {
      const batch = this.#batches[0]!
      const sent = this.#addon.send(this.#handle, batch.chunks, batch.fds)
      if (sent < 0) {
        if (-sent === EAGAIN) {
          this.#waitingWritable = true
          this.#updatePoll()
          return
        }
        this.#fail(-sent, 'write')
        return
      }
      if (sent > 0) batch.fds = undefined
      this.#queued -= sent
      batch.bytes -= sent
      let rest = sent
      while (rest > 0) {
        const first = batch.chunks[0]!
        if (first.byteLength <= rest) {
          rest -= first.byteLength
          batch.chunks.shift()
        } else {
          batch.chunks[0] = first.subarray(rest)
          rest = 0
        }
      }
      if (batch.bytes === 0) this.#batches.shift()
    }
    if (this.#done) return
    if (this.#needDrain && this.#queued < HIGH_WATER_MARK) {
      this.#needDrain = false
      this.#handlers?.drain()
    }
    if (this.#ending && !this.#writeEnded && this.#batches.length === 0) {
      this.#writeEnded = true
      const result = this.#addon.shutdown(this.#handle)
      if (result < 0) this.#fail(-result, 'shutdown')
      else this.#maybeClose()
    }
  }

  #onEvent(event: number, a: unknown, b: unknown): void {
    if (this.#done) {
      // Descriptors that arrive after destroy() would leak: close them.
      if (event === Event.Data && Array.isArray(b)) for (const fd of b) this.#addon.closeFd(fd as number)
      return
    }
    switch (event) {
      case Event.Data:
        this.#handlers?.data(a as Uint8Array, b as number[] | undefined)
        break
      case Event.End:
        this.#readEnded = true
        this.#handlers?.end()
        this.#maybeClose()
        break
      case Event.Error:
        this.#fail(a as number, 'read')
        break
      case Event.Writable:
        this.#waitingWritable = false
        this.#updatePoll()
        this.#flush()
        break
    }
  }

  #maybeClose(): void {
    if (this.#done || !this.#readEnded || !this.#writeEnded) return
    this.#finish()
    this.#handlers?.close()
  }

  #fail(errno: number, during: string): void {
    if (this.#done) return
    this.#finish()
    const address = this.peer.address ?? 'the peer'
    const error = new UnavailableError(
      `[transport-unix] the connection with ${address} failed during ${during}: ${errnoName(errno)}`,
    )
    Object.assign(error, { errno, syscall: during })
    this.#handlers?.error(error)
  }

  #finish(): void {
    this.#done = true
    this.#batches.length = 0
    this.#queued = 0
    this.#addon.close(this.#handle)
  }
}
