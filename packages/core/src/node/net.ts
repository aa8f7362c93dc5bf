import type { Socket } from 'node:net'
import { isIP } from 'node:net'
import {
  abortErrorFrom,
  InvalidArgumentError,
  type LibswarmError,
  TimeoutError,
  UnavailableError,
} from '../errors.ts'

/** Host and port taken from a `scheme://host:port` URL. */
export interface HostPort {
  host: string
  port: number
}

/** Reads host and port from a URL, with a clear error for anything else. */
export function parseHostPort(pkg: string, url: URL, schemes: readonly string[]): HostPort {
  const scheme = url.protocol.replace(/:$/, '')
  const example = `${schemes[0]}://127.0.0.1:5000`
  if (!schemes.includes(scheme)) {
    throw new InvalidArgumentError(
      `[${pkg}] cannot handle URL "${url.href}": expected ${schemes.map((s) => `${s}://`).join(' or ')} (e.g. ${example})`,
    )
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') {
    throw new InvalidArgumentError(`[${pkg}] URL "${url.href}" has no host; expected e.g. ${example}`)
  }
  if (url.port === '') {
    throw new InvalidArgumentError(
      `[${pkg}] URL "${url.href}" has no port; expected e.g. ${example} (port 0 listens on a free port)`,
    )
  }
  const port = Number(url.port)
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError(
      `[${pkg}] URL "${url.href}" must not have a path, query or fragment; expected e.g. ${example}`,
    )
  }
  return { host, port }
}

/** Formats host and port back into a URL (brackets around IPv6 addresses). */
export function formatUrl(scheme: string, host: string, port: number): URL {
  return new URL(`${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`)
}

/** A printable `host:port`. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return 'unknown'
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port ?? '?'}`
}

/** Turns a socket error while dialing into an error that says what to check. */
export function dialError(pkg: string, target: string, error: unknown): LibswarmError {
  const code = (error as { code?: string } | null)?.code
  const reason = error instanceof Error ? error.message : String(error)
  switch (code) {
    case 'ECONNREFUSED':
      return new UnavailableError(
        `[${pkg}] cannot connect to ${target}: connection refused; check that a server is listening there and the port is right`,
        { cause: error },
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UnavailableError(
        `[${pkg}] cannot connect to ${target}: the host name does not resolve; check the host name and DNS`,
        { cause: error },
      )
    case 'ETIMEDOUT':
      return new TimeoutError(
        `[${pkg}] cannot connect to ${target}: timed out; check that the host is reachable and no firewall drops the connection`,
        { cause: error },
      )
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new UnavailableError(`[${pkg}] cannot connect to ${target}: no route to the host (${code})`, {
        cause: error,
      })
    case 'ECONNRESET':
    case 'EPIPE':
      return new UnavailableError(
        `[${pkg}] the connection to ${target} was reset while connecting; check the server's logs`,
        { cause: error },
      )
    default:
      return new UnavailableError(`[${pkg}] cannot connect to ${target}: ${reason}`, { cause: error })
  }
}

/** Turns a listen error into one that says what to check. */
export function listenError(pkg: string, target: string, error: unknown): LibswarmError {
  const code = (error as { code?: string } | null)?.code
  const reason = error instanceof Error ? error.message : String(error)
  switch (code) {
    case 'EADDRINUSE':
      return new UnavailableError(
        `[${pkg}] cannot listen on ${target}: the address is already in use; stop the other server or pick another port (0 picks a free one)`,
        { cause: error },
      )
    case 'EACCES':
    case 'EPERM':
      return new UnavailableError(
        `[${pkg}] cannot listen on ${target}: permission denied; ports below 1024 need privileges`,
        { cause: error },
      )
    case 'EADDRNOTAVAIL':
      return new InvalidArgumentError(
        `[${pkg}] cannot listen on ${target}: that address is not one of this machine's; use 127.0.0.1, 0.0.0.0 or a local address`,
        { cause: error },
      )
    default:
      return new UnavailableError(`[${pkg}] cannot listen on ${target}: ${reason}`, { cause: error })
  }
}

/** Rejects at once if `signal` already fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorFrom(signal)
}

/** A dial timeout as a TimeoutError naming the target. */
export function connectTimeoutError(pkg: string, target: string, ms: number): LibswarmError {
  return new TimeoutError(
    `[${pkg}] cannot connect to ${target}: no answer within ${ms} ms; check that the host is reachable (option connectTimeout)`,
  )
}

/** Options of {@link socketReady}. */
export interface SocketReadyOptions {
  /** Rejects with the signal's reason (and destroys the socket) when it fires. */
  signal?: AbortSignal | undefined
  /** Milliseconds before giving up; `0` or absent waits as long as the OS does. */
  timeout?: number | undefined
  /** Turns a socket error into the error to reject with. Default: the error itself. */
  describe?: (error: NodeJS.ErrnoException) => Error
  /** The error to reject with on timeout. Default: a TimeoutError naming no target. */
  timeoutError?: () => Error
}

/**
 * Waits until a dialing socket emits `event` (`'connect'`, or `'secureConnect'` for TLS). On an
 * error, the signal or the timeout, the socket is destroyed and the promise rejects.
 */
export function socketReady(socket: Socket, event: string, options: SocketReadyOptions = {}): Promise<void> {
  const { signal, timeout = 0, describe = (error) => error } = options
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.off(event, onReady)
      socket.off('error', onError)
      if (error) {
        socket.destroy()
        reject(error)
      } else resolve()
    }
    const onReady = () => done()
    const onError = (error: NodeJS.ErrnoException) => done(describe(error))
    const onAbort = () => done(abortErrorFrom(signal!))
    const timer =
      timeout > 0
        ? setTimeout(
            () => done(options.timeoutError?.() ?? new TimeoutError(`no connection within ${timeout} ms`)),
            timeout,
          )
        : undefined
    socket.once(event, onReady)
    socket.once('error', onError)
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}
