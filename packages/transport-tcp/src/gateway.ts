import { createServer, connect as netConnect, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import {
  abortErrorFrom,
  InvalidArgumentError,
  type LibswarmError,
  type Receiver,
  type Sender,
} from '@libswarm/core'
import { connectTimeoutError, dialError, formatAddress, listenError } from '@libswarm/core/node'

const PKG = 'transport-tcp'

/** What the gateway sends for each accepted connection: its bytes as a stream, and where it came from. */
export interface GatewayConnection {
  /** The connection's bytes, both ways. */
  stream: Duplex
  /** The client's address, `host:port`. */
  from: string
}

/** Options of {@link gatewayListen}. */
export interface GatewayListenOptions {
  /** Local port to listen on; `0` picks a free one (see {@link Gateway.port}). Required. */
  port: number
  /** Local address to listen on. Default: `'127.0.0.1'` (loopback only). */
  host?: string
  /** Where each accepted connection goes: usually a channel opened on a session to the target side. */
  to: Sender<GatewayConnection>
  /** Closes the gateway when it fires. */
  signal?: AbortSignal
  /** Called when forwarding one connection fails (the gateway carries on). Default: ignore. */
  onError?: (error: Error) => void
}

/** A running gateway listener. */
export interface Gateway {
  /** The port it listens on (the real one when 0 was asked for). */
  readonly port: number
  /** The address it listens on. */
  readonly host: string
  /** Connections forwarded so far. */
  readonly forwarded: number
  /** Stops accepting. Connections already forwarded carry on until either end closes them. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Wraps a socket as a plain byte stream, so a session carries its bytes rather than its descriptor. */
function asByteStream(socket: Socket): Duplex {
  return Duplex.from({ readable: socket, writable: socket })
}

/**
 * Listens on a local TCP port and forwards each accepted connection, as a byte stream, through the
 * `to` channel. The other end runs {@link gatewayTarget}, which dials the real target (a database,
 * an ssh server, ...) and pipes the bytes both ways: a gateway through any libswarm transport.
 *
 * @example
 * const session = await connect('tls://gateway.example:5001', { transports: [tls({ ca })] })
 * const gateway = await gatewayListen({ port: 5432, to: session.open() })
 * // psql -h 127.0.0.1 -p 5432 now reaches the database next to the remote end.
 */
export async function gatewayListen(options: GatewayListenOptions): Promise<Gateway> {
  const { port, to, signal, onError } = options
  const host = options.host ?? '127.0.0.1'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`[${PKG}] gatewayListen: "port" must be an integer from 0 to 65535`)
  }
  if (to === undefined || typeof (to as { send?: unknown }).send !== 'function') {
    throw new InvalidArgumentError(`[${PKG}] gatewayListen: "to" must be a Sender (e.g. session.open())`)
  }
  if (signal?.aborted) throw abortErrorFrom(signal)
  let forwarded = 0
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true })
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true)
    const from = formatAddress(socket.remoteAddress, socket.remotePort)
    const stream = asByteStream(socket)
    stream.on('error', () => {})
    socket.resume()
    forwarded++
    to.send({ stream, from }).catch((error: unknown) => {
      socket.destroy()
      onError?.(error instanceof Error ? error : new Error(String(error)))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(PKG, `tcp://${formatAddress(host, port)}`, error)))
    server.listen({ host, port }, () => resolve())
  })
  const bound = server.address()
  const realPort = typeof bound === 'object' && bound !== null ? bound.port : port
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      signal?.removeEventListener('abort', onAbort)
      server.close()
      resolve()
    })
    return closing
  }
  const onAbort = () => void close()
  signal?.addEventListener('abort', onAbort, { once: true })
  // When the channel goes away, nothing more can be forwarded.
  void to.closed.then(() => close())
  return {
    port: realPort,
    host,
    get forwarded() {
      return forwarded
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}

/** Options of {@link gatewayTarget}. */
export interface GatewayTargetOptions {
  /** The real target's host. Default: `'127.0.0.1'`. */
  host?: string
  /** The real target's port. Required. */
  port: number
  /** Give up dialing the target after this many milliseconds. Default: `10000`. */
  connectTimeout?: number
  /** Stops serving (connections already piped carry on). */
  signal?: AbortSignal
  /** Called when one connection cannot reach the target or breaks. Default: ignore. */
  onError?: (error: LibswarmError | Error, from: string) => void
}

/** Pipes two duplexes both ways, passing half-closes along; resolves when both directions are done. */
function splice(a: Duplex, b: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let open = 2
    const done = () => {
      if (--open === 0) resolve()
    }
    const fail = () => {
      a.destroy()
      b.destroy()
      resolve()
    }
    a.on('error', fail)
    b.on('error', fail)
    a.pipe(b).on('finish', done)
    b.pipe(a).on('finish', done)
    a.on('close', () => b.destroy())
    b.on('close', () => a.destroy())
  })
}

/**
 * The remote half of a gateway: for each connection received from {@link gatewayListen}, dials
 * `host:port` and pipes bytes both ways until either side closes. Resolves when `requests` ends.
 *
 * @example
 * for await (const channel of session) void gatewayTarget(channel, { host: '127.0.0.1', port: 5432 })
 */
export async function gatewayTarget(
  requests: Receiver<GatewayConnection>,
  options: GatewayTargetOptions,
): Promise<void> {
  const host = options.host ?? '127.0.0.1'
  const { port, signal, onError } = options
  const connectTimeout = options.connectTimeout ?? 10_000
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new InvalidArgumentError(`[${PKG}] gatewayTarget: "port" must be an integer from 1 to 65535`)
  }
  const target = `tcp://${formatAddress(host, port)}`
  const active = new Set<Promise<void>>()
  const forward = async ({ stream, from }: GatewayConnection) => {
    if (!stream || typeof (stream as Duplex).pipe !== 'function') {
      onError?.(new InvalidArgumentError(`[${PKG}] gatewayTarget: a message without a byte stream`), from)
      return
    }
    const socket = netConnect({ host, port, allowHalfOpen: true })
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(connectTimeoutError(PKG, target, connectTimeout)),
          connectTimeout,
        )
        socket.once('connect', () => {
          clearTimeout(timer)
          resolve()
        })
        socket.once('error', (error) => {
          clearTimeout(timer)
          reject(dialError(PKG, target, error))
        })
      })
    } catch (error) {
      socket.destroy()
      stream.destroy()
      onError?.(error as Error, from)
      return
    }
    socket.setNoDelay(true)
    await splice(stream, socket)
  }
  const onAbort = () => requests.cancel(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const request of requests) {
      const job = forward(request).catch((error: unknown) => onError?.(error as Error, request.from))
      active.add(job)
      void job.finally(() => active.delete(job))
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}
