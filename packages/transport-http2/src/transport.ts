import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Session,
} from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { SecureContextOptions } from 'node:tls'
import {
  abortErrorFrom,
  type DialOptions,
  HandshakeError,
  InvalidArgumentError,
  type Link,
  type LinkListener,
  type ListenOptions,
  type PeerInfo,
  type Transport,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { listenError, serverCertError, type TokenCheck } from '@libswarm/core/node'
import { refuse } from './internal/refuse.ts'
import { streamLink } from './internal/stream-link.ts'
import { http2Handler, LIBSWARM_CONTENT_TYPE } from './server.ts'

/** TLS material and checks for `https://` URLs. */
export interface Http2TlsOptions {
  /** CA certificate(s) to trust (client: the server's CA; server: the CA of client certificates). Default: Node's bundled CAs. */
  ca?: SecureContextOptions['ca']
  /** Certificate chain: the server's, or the client's for mutual TLS. */
  cert?: SecureContextOptions['cert']
  /** Private key matching `cert`. */
  key?: SecureContextOptions['key']
  /**
   * Client: verify the server's certificate and host name. Server with `requestCert`: refuse clients
   * without a valid certificate. Default `true`. Turning it off makes the connection open to
   * interception; do it only in tests.
   */
  rejectUnauthorized?: boolean
  /** Server: ask clients for a certificate (mutual TLS). Default `false`. */
  requestCert?: boolean
  /** Client: the name to verify the certificate against (SNI). Default: the URL's host name. */
  servername?: string
}

/** Options of {@link http2}; each may also be given per call in `dial`/`listen` options. */
export interface Http2TransportOptions {
  /** Dial: the bearer token to send (`Authorization: Bearer <token>`). Default: none. */
  token?: string
  /**
   * Listen: requires a bearer token; a string or a check function (see {@link Http2HandlerOptions.token}).
   * Given as `serverToken` so that one options object can configure both sides. Default: none.
   */
  serverToken?: TokenCheck
  /** Dial: extra request headers (e.g. for auth middleware in front of the server). */
  headers?: Record<string, string>
  /** TLS options for `https://` (both sides). Listening on `https://` needs `cert` and `key`. */
  tls?: Http2TlsOptions
  /** Dial: how long connecting and getting the response headers may take, in ms. Default 30 000. */
  connectTimeout?: number
  /** HTTP/2 flow-control window per stream and (×4) per connection, in bytes. Default 1 MiB. */
  windowSize?: number
  /** Listen: links waiting to be taken before new ones are answered `503`. Default 128. */
  maxPendingLinks?: number
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
])

/**
 * The HTTP/2 transport: `http2://host:port/path` (cleartext h2c) and `https://host:port/path` (h2
 * over TLS, certificates checked by default). A session rides one ordinary POST request whose
 * request and response bodies stream both ways, so it passes HTTP/2 reverse proxies and auth
 * middleware.
 */
export function http2(options: Http2TransportOptions = {}): Transport {
  return {
    name: 'http2',
    schemes: ['http2', 'https'],
    dial: (url, dialOptions) => dial(url, { ...options, ...dialOptions }),
    listen: (url, listenOptions) => listen(url, { ...options, ...listenOptions }),
  }
}

type DialAll = Http2TransportOptions & DialOptions
type ListenAll = Http2TransportOptions & ListenOptions

interface Target {
  secure: boolean
  authority: string
  path: string
  host: string
  port: number
  printable: string
}

function parseUrl(url: URL | string): Target {
  let u: URL
  try {
    u = typeof url === 'string' ? new URL(url) : url
  } catch (cause) {
    throw new InvalidArgumentError(`[transport-http2] not a URL: ${JSON.stringify(url)}`, { cause })
  }
  const scheme = u.protocol.slice(0, -1)
  if (scheme !== 'http2' && scheme !== 'https') {
    throw new InvalidArgumentError(
      `[transport-http2] unsupported URL scheme "${scheme}:" in ${u.href}; use http2://host:port/path (h2c) or https://host:port/path`,
    )
  }
  if (!u.hostname) {
    throw new InvalidArgumentError(
      `[transport-http2] the URL ${u.href} has no host; use ${scheme}://host:port/path`,
    )
  }
  const secure = scheme === 'https'
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  const hostPart = u.hostname.startsWith('[') ? u.hostname : host
  const path = (u.pathname || '/') + u.search
  return {
    secure,
    authority: `${secure ? 'https' : 'http'}://${hostPart}:${port}`,
    path: path.startsWith('/') ? path : `/${path}`,
    host,
    port,
    printable: `${scheme}://${hostPart}:${port}${u.pathname || '/'}`,
  }
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(`[transport-http2] option "${name}" must be a non-empty string`)
  }
  return value
}

async function dial(url: URL, options: DialAll): Promise<Link> {
  const target = parseUrl(url)
  const token = optionalString(options.token, 'token')
  const tls = (options.tls ?? {}) as Http2TlsOptions
  const windowSize = options.windowSize ?? 1 << 20
  const timeoutMs = options.connectTimeout ?? 30_000
  const signals = [AbortSignal.timeout(timeoutMs)]
  if (options.signal) signals.push(options.signal)
  const signal = AbortSignal.any(signals)
  if (options.signal?.aborted) throw abortErrorFrom(options.signal)

  const session = connect(target.authority, {
    settings: { initialWindowSize: windowSize },
    ...(target.secure
      ? {
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
          servername: tls.servername ?? (isIp(target.host) ? undefined : target.host),
        }
      : {}),
  })
  let sessionError: Error | undefined
  session.on('error', (error) => {
    sessionError ??= error
  })
  // An HTTP/2 server's first frame is SETTINGS; a connection that ends without one was not HTTP/2.
  let spokeHttp2 = false
  session.once('remoteSettings', () => {
    spokeHttp2 = true
  })

  const failed = (error: Error): never => {
    session.destroy()
    throw error
  }

  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(abortDuringDial(options.signal, signal, target, timeoutMs))
      signal.addEventListener('abort', onAbort, { once: true })
      session.once('connect', () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
      session.once('error', (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(connectError(error, target))
      })
      session.once('close', () => {
        signal.removeEventListener('abort', onAbort)
        reject(sessionError ? connectError(sessionError, target) : notHttp2(target))
      })
    })
  } catch (error) {
    failed(error as Error)
  }
  try {
    session.setLocalWindowSize(windowSize * 4)
  } catch {
    // Only an optimisation.
  }

  const headers: Record<string, string> = {
    ...(options.headers ?? {}),
    ':method': 'POST',
    ':path': target.path,
    'content-type': LIBSWARM_CONTENT_TYPE,
    accept: LIBSWARM_CONTENT_TYPE,
  }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  let stream: ClientHttp2Stream
  try {
    stream = session.request(headers, { endStream: false })
  } catch (error) {
    return failed(connectError(error as Error, target))
  }
  stream.on('error', () => {})

  let response: IncomingHttpHeaders
  try {
    response = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const onAbort = () => reject(abortDuringDial(options.signal, signal, target, timeoutMs))
      signal.addEventListener('abort', onAbort, { once: true })
      stream.once('response', (h) => {
        signal.removeEventListener('abort', onAbort)
        resolve(h)
      })
      stream.once('close', () => {
        signal.removeEventListener('abort', onAbort)
        reject(
          !spokeHttp2
            ? notHttp2(target)
            : new UnavailableError(
                `[transport-http2] ${target.printable} closed the request before answering (HTTP/2 error code ${stream.rstCode ?? 'none'})`,
                { cause: sessionError },
              ),
        )
      })
    })
  } catch (error) {
    return failed(error as Error)
  }

  const status = Number(response[':status'])
  const contentType = String(response['content-type'] ?? '')
  if (status !== 200 || !contentType.startsWith(LIBSWARM_CONTENT_TYPE)) {
    const body = await readSome(stream, 1024, 2000)
    return failed(statusError(status, contentType, body, target, token !== undefined))
  }

  const peer: PeerInfo = { transport: 'http2', address: target.printable }
  const closeSession = (s: ClientHttp2Session) => () => {
    if (!s.closed && !s.destroyed) s.close()
  }
  return streamLink(stream, peer, target.printable, closeSession(session))
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':')
}

function abortDuringDial(
  userSignal: AbortSignal | undefined,
  signal: AbortSignal,
  target: Target,
  timeoutMs: number,
): Error {
  if (userSignal?.aborted) return abortErrorFrom(userSignal)
  void signal
  return new UnavailableError(
    `[transport-http2] connecting to ${target.printable} timed out after ${timeoutMs} ms (option connectTimeout)`,
  )
}

function connectError(error: Error & { code?: string }, target: Target): Error {
  const code = error.code ?? ''
  if (
    /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_EXPIRED|SSLV3_ALERT_CERTIFICATE_UNKNOWN)$/.test(
      code,
    )
  ) {
    return new UnauthorizedError(
      `[transport-http2] ${target.printable} refused this client's TLS certificate or requires one (${code}); give tls.cert and tls.key signed by a CA the server trusts`,
      { cause: error },
    )
  }
  if (NETWORK_CODES.has(code)) {
    return new UnavailableError(
      `[transport-http2] cannot connect to ${target.printable}: ${code === 'ECONNREFUSED' ? 'connection refused; is the server running and listening there?' : error.message}`,
      { cause: error },
    )
  }
  const refused = serverCertError(error, {
    pkg: 'transport-http2',
    target: target.printable,
    host: target.host,
    caOption: 'tls.ca',
    servernameOption: 'tls.servername',
  })
  if (refused) return refused
  if (
    code.startsWith('ERR_HTTP2') ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /protocol/i.test(error.message)
  ) {
    return new HandshakeError(
      `[transport-http2] ${target.printable} is not an HTTP/2 libswarm endpoint (${code || error.message}); for an HTTP/1.1 server use the websocket transport`,
      { cause: error },
    )
  }
  return new UnavailableError(`[transport-http2] cannot connect to ${target.printable}: ${error.message}`, {
    cause: error,
  })
}

function notHttp2(target: Target): Error {
  if (target.secure) {
    return new HandshakeError(
      `[transport-http2] ${target.printable} closed the connection during the HTTP/2 handshake: it refused this client's TLS certificate or requires one (mutual TLS; give tls.cert and tls.key signed by a CA the server trusts), or it is not an HTTP/2 libswarm endpoint`,
    )
  }
  return new HandshakeError(
    `[transport-http2] ${target.printable} closed the connection during the HTTP/2 handshake; it is not an HTTP/2 libswarm endpoint`,
  )
}

function statusError(
  status: number,
  contentType: string,
  body: string,
  target: Target,
  sentToken: boolean,
): Error {
  const detail = body ? `: ${body}` : ''
  if (status === 401) {
    return new UnauthorizedError(
      sentToken
        ? `[transport-http2] ${target.printable} refused the bearer token (HTTP 401)${detail}`
        : `[transport-http2] ${target.printable} requires a bearer token (HTTP 401); pass { token }${detail}`,
    )
  }
  if (status === 403) {
    return new UnauthorizedError(
      `[transport-http2] ${target.printable} refused the connection (HTTP 403)${detail}`,
    )
  }
  if (status === 502 || status === 503 || status === 504) {
    return new UnavailableError(
      `[transport-http2] ${target.printable} is unavailable (HTTP ${status})${detail}`,
    )
  }
  return new HandshakeError(
    `[transport-http2] ${target.printable} is not a libswarm endpoint: it answered HTTP ${status}` +
      `${contentType ? ` with content-type ${contentType}` : ''} instead of 200 ${LIBSWARM_CONTENT_TYPE}; check the URL's path${detail}`,
  )
}

/** Reads up to `max` bytes of a response body as text, giving up after `ms`. */
function readSome(stream: ClientHttp2Stream, max: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      clearTimeout(timer)
      stream.off('data', onData)
      resolve(Buffer.concat(chunks).toString('utf8', 0, Math.min(size, max)).trim().replace(/\s+/g, ' '))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= max) done()
    }
    const timer = setTimeout(done, ms)
    stream.on('data', onData)
    stream.once('end', done)
    stream.once('close', done)
  })
}

async function listen(url: URL, options: ListenAll): Promise<LinkListener> {
  const target = parseUrl(url)
  const tls = (options.tls ?? {}) as Http2TlsOptions
  const windowSize = options.windowSize ?? 1 << 20
  if (options.signal?.aborted) throw abortErrorFrom(options.signal)
  const handler = http2Handler({
    path: target.path.split('?')[0],
    token: options.serverToken as TokenCheck | undefined,
    authenticate: options.authenticate,
    maxPendingLinks: options.maxPendingLinks,
  })
  let server: Http2Server | Http2SecureServer
  if (target.secure) {
    if (!tls.cert || !tls.key) {
      throw new InvalidArgumentError(
        `[transport-http2] listening on ${target.printable} needs tls.cert and tls.key (or use http2:// for cleartext h2c)`,
      )
    }
    const secureOptions: SecureServerOptions = {
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      requestCert: tls.requestCert ?? false,
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
      allowHTTP1: false,
      settings: { initialWindowSize: windowSize },
    }
    server = createSecureServer(secureOptions)
  } else {
    server = createServer({ settings: { initialWindowSize: windowSize } })
  }
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    session.on('error', () => {})
    try {
      session.setLocalWindowSize(windowSize * 4)
    } catch {
      // Only an optimisation.
    }
  })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    if (!handler.handleStream(stream, headers)) {
      refuse(stream, 404, `no libswarm endpoint at this path; this server's endpoint is ${handler.path}`)
    }
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(listenError('transport-http2', target.printable, error))
    server.once('error', onError)
    server.listen(target.port, target.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  server.on('error', () => {})

  const actual = new URL(url.href)
  actual.port = String((server.address() as AddressInfo).port)
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handler.close()
    server.close()
    // GOAWAY on every connection: streams already open (accepted links) finish, no new ones start,
    // so a proxy that keeps backend connections alive opens fresh ones to whoever listens next.
    for (const session of sessions) if (!session.closed) session.close()
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return {
    url: actual,
    close,
    [Symbol.asyncDispose]: close,
    [Symbol.asyncIterator]: () => handler[Symbol.asyncIterator](),
  }
}
