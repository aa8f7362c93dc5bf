/**
 * A {@link Link} over a WebSocket. Browser-safe: no Node imports; the socket is reached through a
 * small {@link SocketPort} so that the browser's WebSocket and the `ws` package both fit.
 *
 * Wire use: every binary message is link data. WebSocket has no half-close, so the link sends one
 * text message, `end`, when its side is done; a side that has both sent and received `end` closes
 * the socket with 1000. A close without both `end`s (a reset, a killed peer, code 1006) is an error.
 * Any other text message is a protocol error.
 */
import {
  type Link,
  type LinkHandlers,
  type PeerInfo,
  ProtocolError,
  SessionClosedError,
} from '@libswarm/core'

/** The text message that half-closes a direction. */
export const END_MARKER = 'end'
/** Close code a side uses when it destroys the link (no error given / with an error). */
export const CLOSE_DESTROYED = 4000
export const CLOSE_FAILED = 4001

/** What the link needs from a WebSocket. */
export interface SocketPort {
  /** Bytes queued in the socket but not yet sent. */
  bufferedAmount(): number
  /** Sends one message; `sent` (when supported) is called once it left the process. */
  send(data: Uint8Array | string, sent?: () => void): void
  close(code: number, reason: string): void
  /** True when `send` calls `sent` (Node `ws`); else the link polls `bufferedAmount` for drain. */
  readonly reportsSent: boolean
  pause?(): void
  resume?(): void
  /** Installs the event callbacks (once). */
  listen(events: {
    message(data: Uint8Array | string): void
    close(code: number, reason: string): void
    error(error: Error): void
  }): void
}

/** Above this many queued bytes `write` returns false. */
const HIGH_WATER = 1024 * 1024
/** Writes are gathered into one message up to this size. */
const COALESCE_LIMIT = 64 * 1024

export function wsLink(port: SocketPort, peer: PeerInfo, describe: string): Link {
  let handlers: LinkHandlers | undefined
  const early: Array<() => void> = []
  let done = false
  let localEnded = false
  let remoteEnded = false
  let failure: Error | undefined
  let needDrain = false
  let pollTimer: ReturnType<typeof setTimeout> | undefined
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  let flushScheduled = false

  const deliver = (fn: (h: LinkHandlers) => void): void => {
    if (handlers) fn(handlers)
    else early.push(() => fn(handlers!))
  }

  const finish = (error?: Error): void => {
    if (done) return
    done = true
    needDrain = false
    if (pollTimer !== undefined) clearTimeout(pollTimer)
    pending = []
    pendingBytes = 0
    deliver((h) => (error ? h.error(error) : h.close()))
  }

  const queued = (): number => port.bufferedAmount() + pendingBytes

  const checkDrain = (): void => {
    if (done || !needDrain) return
    if (queued() <= HIGH_WATER / 2) {
      needDrain = false
      deliver((h) => h.drain())
    } else if (!port.reportsSent) {
      pollTimer = setTimeout(checkDrain, 4)
    }
  }

  const flush = (): void => {
    flushScheduled = false
    if (done || pending.length === 0) return
    let message: Uint8Array
    if (pending.length === 1) message = pending[0]!
    else {
      message = new Uint8Array(pendingBytes)
      let offset = 0
      for (const chunk of pending) {
        message.set(chunk, offset)
        offset += chunk.length
      }
    }
    pending = []
    pendingBytes = 0
    port.send(message, port.reportsSent ? checkDrain : undefined)
  }

  const closeIfBothEnded = (): void => {
    if (localEnded && remoteEnded) port.close(1000, 'done')
  }

  port.listen({
    message(data) {
      if (done) return
      if (typeof data === 'string') {
        if (data === END_MARKER && !remoteEnded) {
          remoteEnded = true
          deliver((h) => h.end())
          closeIfBothEnded()
          return
        }
        const error = new ProtocolError(
          `[transport-websocket] ${describe} sent an unexpected text message; a libswarm WebSocket carries binary messages only`,
        )
        port.close(CLOSE_FAILED, 'unexpected text message')
        finish(error)
        return
      }
      if (remoteEnded) {
        port.close(CLOSE_FAILED, 'data after end')
        finish(new ProtocolError(`[transport-websocket] ${describe} sent data after ending its side`))
        return
      }
      deliver((h) => h.data(data))
    },
    error(error) {
      failure ??= error
    },
    close(code, reason) {
      if (done) return
      if (localEnded && remoteEnded && (code === 1000 || code === 1005)) return finish()
      const why =
        code === CLOSE_DESTROYED || code === CLOSE_FAILED
          ? `the peer reset the link${reason ? ` (${reason})` : ''}`
          : code === 1006
            ? `the connection was lost${failure ? ` (${failure.message})` : ''}`
            : `the socket closed with code ${code}${reason ? ` (${reason})` : ''} before both sides ended`
      finish(
        new SessionClosedError(`[transport-websocket] the link to ${describe} ended abruptly: ${why}`, {
          cause: failure,
        }),
      )
    },
  })

  const link: Link = {
    peer,
    canPassFds: false,
    start(h) {
      if (handlers) throw new Error('[transport-websocket] Link.start called twice')
      handlers = h
      for (const fn of early.splice(0)) fn()
    },
    write(chunk, fds) {
      if (fds !== undefined && fds.length > 0) {
        throw new TypeError('[transport-websocket] this link cannot pass file descriptors')
      }
      if (done || localEnded) return false
      if (chunk.length === 0) return queued() < HIGH_WATER
      if (chunk.length >= COALESCE_LIMIT) {
        flush()
        port.send(chunk, port.reportsSent ? checkDrain : undefined)
      } else {
        pending.push(chunk)
        pendingBytes += chunk.length
        if (pendingBytes >= COALESCE_LIMIT) flush()
        else if (!flushScheduled) {
          flushScheduled = true
          queueMicrotask(flush)
        }
      }
      if (queued() < HIGH_WATER) return true
      if (!needDrain) {
        needDrain = true
        if (!port.reportsSent) pollTimer = setTimeout(checkDrain, 4)
      }
      return false
    },
    writev(chunks) {
      let ok = true
      for (const chunk of chunks) ok = link.write(chunk)
      return ok
    },
    end() {
      if (done || localEnded) return
      flush()
      localEnded = true
      port.send(END_MARKER)
      closeIfBothEnded()
    },
    destroy(error) {
      if (done) return
      port.close(error ? CLOSE_FAILED : CLOSE_DESTROYED, error ? truncate(error.message) : 'destroyed')
      finish()
    },
    pause: port.pause ? () => port.pause?.() : undefined,
    resume: port.resume
      ? () => {
          if (handlers) port.resume?.()
        }
      : undefined,
  }
  return link
}

/** A close reason is at most 123 bytes of UTF-8. */
function truncate(reason: string): string {
  const bytes = new TextEncoder().encode(reason)
  if (bytes.length <= 123) return reason
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, '')
}

/** A browser-style WebSocket (the global one, or any object with the same API). */
export interface BrowserWebSocket {
  readonly readyState: number
  readonly bufferedAmount: number
  readonly protocol: string
  binaryType: string
  send(data: Uint8Array | string): void
  close(code?: number, reason?: string): void
  addEventListener(type: string, listener: (event: any) => void, options?: { once?: boolean }): void
  removeEventListener(type: string, listener: (event: any) => void): void
}

/** Adapts a browser-style WebSocket. */
export function browserPort(socket: BrowserWebSocket): SocketPort {
  socket.binaryType = 'arraybuffer'
  return {
    reportsSent: false,
    bufferedAmount: () => socket.bufferedAmount,
    send: (data) => socket.send(data),
    close: (code, reason) => {
      try {
        socket.close(code, reason)
      } catch {
        socket.close()
      }
    },
    listen(events) {
      socket.addEventListener('message', (event: { data: unknown }) => {
        const data = event.data
        if (typeof data === 'string') events.message(data)
        else if (data instanceof ArrayBuffer) events.message(new Uint8Array(data))
        else if (ArrayBuffer.isView(data)) {
          events.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        }
      })
      socket.addEventListener('error', () => events.error(new Error('WebSocket error')))
      socket.addEventListener('close', (event: { code: number; reason: string }) =>
        events.close(event.code, event.reason),
      )
    },
  }
}
