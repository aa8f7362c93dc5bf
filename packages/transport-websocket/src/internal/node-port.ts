import type { WebSocket } from 'ws'
import type { SocketPort } from './ws-link.ts'

/** Adapts a `ws` WebSocket (client or server side) for {@link wsLink}. */
export function nodePort(socket: WebSocket): SocketPort {
  return {
    reportsSent: true,
    bufferedAmount: () => socket.bufferedAmount,
    send: (data, sent) => {
      if (socket.readyState !== socket.OPEN) return
      socket.send(data, { binary: typeof data !== 'string' }, sent ? () => sent() : undefined)
    },
    close: (code, reason) => {
      if (socket.readyState === socket.CLOSED) return
      socket.close(code, reason)
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    listen(events) {
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const bytes = Array.isArray(data)
          ? Buffer.concat(data)
          : data instanceof ArrayBuffer
            ? new Uint8Array(data)
            : data
        events.message(isBinary ? bytes : Buffer.from(bytes).toString('utf8'))
      })
      socket.on('error', (error: Error) => events.error(error))
      socket.on('close', (code: number, reason: Buffer) => events.close(code, reason.toString('utf8')))
    },
  }
}
