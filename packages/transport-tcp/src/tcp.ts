import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import {
  type DialOptions,
  InvalidArgumentError,
  type Link,
  type LinkListener,
  type ListenOptions,
  type PeerInfo,
  type Transport,
  UnavailableError,
} from '@libswarm/core'
import {
  connectTimeoutError,
  dialError,
  formatAddress,
  formatUrl,
  listenError,
  parseHostPort,
  QueueListener,
  socketLink,
  socketReady,
  throwIfAborted,
} from '@libswarm/core/node'

const PKG = 'transport-tcp'

/** Options of {@link tcp}. Each may also be given per call in `dial`/`listen` options. */
export interface TcpOptions {
  /** Disable Nagle's algorithm so small frames leave at once (the session coalesces its own writes). Default: `true`. */
  noDelay?: boolean
  /** Give up a dial that has not connected after this many milliseconds. Default: `10000`. */
  connectTimeout?: number
  /** Enable TCP keep-alive probes after this many idle milliseconds; `0` leaves them off. Default: `0`. */
  keepAlive?: number
  /** Listen backlog. Default: the OS default (511). */
  backlog?: number
}

function numberOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`[${PKG}] option "${name}" must be a non-negative number of milliseconds`)
  }
  return value
}

function settings(base: TcpOptions, call: Record<string, unknown>) {
  const merged = { ...base, ...call } as TcpOptions
  return {
    noDelay: merged.noDelay ?? true,
    connectTimeout: numberOption('connectTimeout', merged.connectTimeout, 10_000),
    keepAlive: numberOption('keepAlive', merged.keepAlive, 0),
    backlog: merged.backlog,
  }
}

function configure(socket: Socket, noDelay: boolean, keepAlive: number): void {
  socket.setNoDelay(noDelay)
  if (keepAlive > 0) socket.setKeepAlive(true, keepAlive)
}

function runtimeError(address: string): (error: Error) => Error {
  return (error) =>
    new UnavailableError(`[${PKG}] the connection with ${address} failed: ${error.message}`, { cause: error })
}

/**
 * The TCP transport: `tcp://host:port`. Listening on port 0 picks a free port; the listener's
 * `url` then carries the real one.
 *
 * @example
 * import { connect } from '@libswarm/core'
 * import { tcp } from '@libswarm/transport-tcp'
 * const session = await connect('tcp://127.0.0.1:5000', { transports: [tcp()] })
 */
export function tcp(options: TcpOptions = {}): Transport {
  return {
    name: 'tcp',
    schemes: ['tcp'],
    async dial(url: URL, callOptions: DialOptions = {}): Promise<Link> {
      const { host, port } = parseHostPort(PKG, url, ['tcp'])
      const { noDelay, connectTimeout, keepAlive } = settings(options, callOptions)
      const target = `tcp://${formatAddress(host, port)}`
      const signal = callOptions.signal
      throwIfAborted(signal)
      const socket = netConnect({ host, port, allowHalfOpen: true })
      await socketReady(socket, 'connect', {
        signal,
        timeout: connectTimeout,
        describe: (error) => dialError(PKG, target, error),
        timeoutError: () => connectTimeoutError(PKG, target, connectTimeout),
      })
      configure(socket, noDelay, keepAlive)
      const address = formatAddress(socket.remoteAddress, socket.remotePort)
      return socketLink(socket, { transport: 'tcp', address }, runtimeError(address))
    },

    async listen(url: URL, callOptions: ListenOptions = {}): Promise<LinkListener> {
      const { host, port } = parseHostPort(PKG, url, ['tcp'])
      const { noDelay, keepAlive, backlog } = settings(options, callOptions)
      const { signal, authenticate } = callOptions
      throwIfAborted(signal)
      const server: Server = createServer({ allowHalfOpen: true })
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(listenError(PKG, `tcp://${formatAddress(host, port)}`, error)))
        server.listen({ host, port, backlog }, () => resolve())
      })
      const bound = server.address()
      const realPort = typeof bound === 'object' && bound !== null ? bound.port : port
      const listener = new QueueListener(formatUrl('tcp', host, realPort), async () => {
        signal?.removeEventListener('abort', onAbort)
        // server.close() only calls back once every accepted connection has ended; links already
        // accepted stay open, so do not wait for that.
        server.close()
      })
      const onAbort = () => void listener.close()
      signal?.addEventListener('abort', onAbort, { once: true })
      server.on('error', () => void listener.close())
      server.on('connection', (socket: Socket) => {
        configure(socket, noDelay, keepAlive)
        const address = formatAddress(socket.remoteAddress, socket.remotePort)
        const peer: PeerInfo = { transport: 'tcp', address }
        listener.admit(socketLink(socket, peer, runtimeError(address)), authenticate)
      })
      return listener
    },
  }
}
