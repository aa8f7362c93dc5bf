import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { SecureContextOptions } from 'node:tls'
import {
  abortErrorFrom,
  type DialOptions,
  InvalidArgumentError,
  type Link,
  type LinkListener,
  type ListenOptions,
  type Transport,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { listenError, serverCertError, type TokenCheck } from '@libswarm/core/node'
import { WebSocket } from 'ws'
import {
  checkToken,
  notLibswarm,
  parseUrl,
  SUBPROTOCOL,
  statusError,
  type Target,
  type WebSocketDialOptions,
} from './internal/common.ts'
import { nodePort } from './internal/node-port.ts'
import { wsLink } from './internal/ws-link.ts'
import { websocketHandler } from './server.ts'

/** TLS material and checks for `wss://` URLs (Node only). */
export interface WebSocketTlsOptions {
  /** CA certificate(s) to trust. Default: Node's bundled CAs. */
  ca?: SecureContextOptions['ca']
  /** Certificate chain: the server's, or the client's for mutual TLS. */
  cert?: SecureContextOptions['cert']
  /** Private key matching `cert`. */
  key?: SecureContextOptions['key']
  /** Check the peer's certificate (and the server's host name). Default `true`; turn off only in tests. */
  rejectUnauthorized?: boolean
  /** Server: ask clients for a certificate (mutual TLS). Default `false`. */
  requestCert?: boolean
  /** Client: the name to verify the certificate against. Default: the URL's host name. */
  servername?: string
}

/** Options of {@link websocket}; each may also be given per call in `dial`/`listen` options. */
export interface WebSocketTransportOptions extends WebSocketDialOptions {
  /** Listen: require a bearer token (see {@link WebSocketHandlerOptions.token}). Default: none. */
  serverToken?: TokenCheck
  /** Dial: extra headers on the upgrade request (Node only; e.g. for auth middleware). */
  headers?: Record<string, string>
  /** TLS options for `wss://` (both sides). Listening on `wss://` needs `cert` and `key`. */
  tls?: WebSocketTlsOptions
  /** Largest WebSocket message accepted, in bytes. Default 64 MiB. */
  maxPayload?: number
  /** Listen: accepted links waiting for the iterator; more are answered `503`. Default 128. */
  maxPendingLinks?: number
}

/**
 * The WebSocket transport (Node): dials with the `ws` package and listens with a `ws` server on its
 * own HTTP/1.1 server. To attach to a server you already have, use {@link websocketHandler}.
 */
export function websocket(options: WebSocketTransportOptions = {}): Transport {
  return {
    name: 'websocket',
    schemes: ['ws', 'wss'],
    dial: (url, dialOptions) => dial(url, { ...options, ...dialOptions }),
    listen: (url, listenOptions) => listen(url, { ...options, ...listenOptions }),
  }
}

async function dial(url: URL, options: WebSocketTransportOptions & DialOptions): Promise<Link> {
  const target = parseUrl(url)
  const token = checkToken(options.token)
  const tls = options.tls ?? {}
  const timeoutMs = options.connectTimeout ?? 30_000
  if (options.signal?.aborted) throw abortErrorFrom(options.signal)
  const headers: Record<string, string> = { ...(options.headers ?? {}) }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const socket = new WebSocket(target.href, [SUBPROTOCOL], {
    headers,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
    handshakeTimeout: timeoutMs,
    ...(target.secure
      ? {
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          rejectUnauthorized: tls.rejectUnauthorized ?? true,
          servername: tls.servername,
        }
      : {}),
  })
  // The link installs its own listeners; until then failures are reported by the promise below.
  const port = nodePort(socket)

  await new Promise<void>((resolve, reject) => {
    let settled = false
    const settle = (error?: Error) => {
      if (settled) return
      settled = true
      options.signal?.removeEventListener('abort', onAbort)
      if (error) {
        socket.removeAllListeners('open')
        socket.on('error', () => {})
        if (socket.readyState !== socket.CLOSED) socket.terminate()
        reject(error)
      } else resolve()
    }
    const onAbort = () => settle(abortErrorFrom(options.signal!))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('open', () => settle())
    socket.on('error', (error: Error & { code?: string }) => settle(connectError(error, target)))
    socket.once('unexpected-response', (req, res: IncomingMessage) => {
      readSome(res, 1024, 2000).then((body) => {
        req.destroy()
        settle(statusError(res.statusCode ?? 0, body, target.printable, token !== undefined))
      })
    })
  })
  if (socket.protocol !== SUBPROTOCOL) {
    socket.terminate()
    throw notLibswarm(target.printable, `it did not select the "${SUBPROTOCOL}" subprotocol`)
  }
  return wsLink(port, { transport: 'websocket', address: target.printable }, target.printable)
}

function connectError(error: Error & { code?: string }, target: Target): Error {
  const code = error.code ?? ''
  if (
    /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_EXPIRED|SSLV3_ALERT_CERTIFICATE_UNKNOWN)$/.test(
      code,
    )
  ) {
    return new UnauthorizedError(
      `[transport-websocket] ${target.printable} refused this client's TLS certificate or requires one (${code}); give tls.cert and tls.key signed by a CA the server trusts`,
      { cause: error },
    )
  }
  if (target.secure && (code === 'ECONNRESET' || /socket hang up/i.test(error.message))) {
    // A server that checks client certificates (mutual TLS) drops the connection right after the
    // TLS handshake when it refuses ours, without an HTTP answer.
    return new UnavailableError(
      `[transport-websocket] ${target.printable} closed the connection before answering (${code || error.message}): if it uses mutual TLS, it refused this client's TLS certificate or requires one (give tls.cert and tls.key signed by a CA the server trusts)`,
      { cause: error },
    )
  }
  if (code === 'ECONNREFUSED') {
    return new UnavailableError(
      `[transport-websocket] cannot connect to ${target.printable}: connection refused; is the server running and listening there?`,
      { cause: error },
    )
  }
  const refused = serverCertError(error, {
    pkg: 'transport-websocket',
    target: target.printable,
    host: target.host,
    caOption: 'tls.ca',
    servernameOption: 'tls.servername',
  })
  if (refused) return refused
  if (/subprotocol|Invalid Sec-WebSocket|Invalid Upgrade|Invalid WebSocket frame/i.test(error.message)) {
    return notLibswarm(target.printable, error.message)
  }
  if (/Opening handshake has timed out/.test(error.message)) {
    return new UnavailableError(
      `[transport-websocket] opening ${target.printable} timed out (option connectTimeout)`,
      {
        cause: error,
      },
    )
  }
  return new UnavailableError(
    `[transport-websocket] cannot connect to ${target.printable}: ${error.message}`,
    {
      cause: error,
    },
  )
}

function readSome(res: IncomingMessage, max: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      clearTimeout(timer)
      res.off('data', onData)
      resolve(Buffer.concat(chunks).toString('utf8', 0, Math.min(size, max)).trim().replace(/\s+/g, ' '))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= max) done()
    }
    const timer = setTimeout(done, ms)
    res.on('data', onData)
    res.once('end', done)
    res.once('close', done)
    res.once('error', done)
  })
}

async function listen(url: URL, options: WebSocketTransportOptions & ListenOptions): Promise<LinkListener> {
  const target = parseUrl(url)
  const tls = options.tls ?? {}
  if (options.signal?.aborted) throw abortErrorFrom(options.signal)
  const handler = websocketHandler({
    path: target.path,
    token: options.serverToken,
    authenticate: options.authenticate,
    maxPendingLinks: options.maxPendingLinks,
    maxPayload: options.maxPayload,
  })
  const onRequest = (_req: IncomingMessage, res: import('node:http').ServerResponse) => {
    res.writeHead(426, {
      'content-type': 'text/plain; charset=utf-8',
      upgrade: 'websocket',
      connection: 'close',
    })
    res.end(`this is a libswarm WebSocket endpoint at ${handler.path}: connect with a WebSocket client\n`)
  }
  let server: HttpServer | HttpsServer
  if (target.secure) {
    if (!tls.cert || !tls.key) {
      throw new InvalidArgumentError(
        `[transport-websocket] listening on ${target.printable} needs tls.cert and tls.key (or use ws:// for cleartext)`,
      )
    }
    server = createHttpsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: tls.requestCert ?? false,
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
      },
      onRequest,
    )
  } else {
    server = createHttpServer(onRequest)
  }
  handler.attach(server)
  server.on('clientError', (_error, socket) => socket.destroy())

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(listenError('transport-websocket', target.printable, error))
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
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return {
    url: actual,
    close,
    [Symbol.asyncDispose]: close,
    [Symbol.asyncIterator]: () => handler[Symbol.asyncIterator](),
  }
}
