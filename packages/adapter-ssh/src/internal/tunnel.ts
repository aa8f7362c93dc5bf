import { createServer, type Server as NetServer, type Socket } from 'node:net'
import { pipeline } from 'node:stream'
import type { SshConnection } from './connection.ts'

/** Options of {@link forwardPort}. */
export interface ForwardPortOptions {
  /** Local port to listen on. Default: 0 (a free port). */
  localPort?: number
  /** Local address to listen on. Default: 127.0.0.1. */
  localHost?: string
  /** Where to connect, as seen from the SSH server. */
  remoteHost: string
  remotePort: number
  /** Stops listening and closes the tunnels when it fires. */
  signal?: AbortSignal
}

/** A listening port forward (`ssh -L`). */
export interface PortForward {
  /** The local port it listens on. */
  port: number
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Listens on a local TCP port and carries each accepted connection through the SSH connection to
 * `remoteHost:remotePort` (like `ssh -L`). A connection the far side refuses is closed.
 */
export async function forwardPort(
  connection: SshConnection,
  options: ForwardPortOptions,
): Promise<PortForward> {
  const sockets = new Set<Socket>()
  const server: NetServer = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.pause()
    connection.forwardTcp(options.remoteHost, options.remotePort).then(
      (channel) => {
        pipeline(socket, channel, socket, () => socket.destroy())
        socket.resume()
      },
      () => socket.destroy(),
    )
  })
  await connection.client() // fail now, with the connection's clear error, rather than per accepted socket
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.localPort ?? 0, options.localHost ?? '127.0.0.1', () => resolve())
  })
  const close = async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return {
    port: (server.address() as { port: number }).port,
    close,
    [Symbol.asyncDispose]: close,
  }
}
