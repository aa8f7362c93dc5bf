import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { InvalidArgumentError, type Link, type PeerInfo } from '@libswarm/core'
import { bearerToken, checkToken, type TokenCheck, tlsIdentity } from '@libswarm/core/node'
import { WebSocketServer } from 'ws'
import { SUBPROTOCOL } from './internal/common.ts'
import { nodePort } from './internal/node-port.ts'
import { wsLink } from './internal/ws-link.ts'

/** Options of {@link websocketHandler}. */
export interface WebSocketHandlerOptions {
  /** The path it answers on (exact match; the query string is ignored). Default `/`. */
  path?: string
  /**
   * Requires a bearer token, taken from `Authorization: Bearer <token>` or (for browsers, which
   * cannot set headers) the `access_token` query parameter. A string is compared in constant time; a
   * function gets the token and returns an identity (any truthy value; `true` for none) or a falsy
   * value / throws to refuse it. Refused: `401`. Default: no token required.
   */
  token?: TokenCheck
  /** Decides after the token check; return false or throw to answer `403`. Default: accept. */
  authenticate?: (peer: PeerInfo) => boolean | Promise<boolean>
  /** Accepted links that may wait for the iterator; more are answered `503`. Default 128. */
  maxPendingLinks?: number
  /** Largest WebSocket message accepted, in bytes. Default 64 MiB. */
  maxPayload?: number
}

/**
 * A libswarm WebSocket endpoint attached to an HTTP/1.1 server (`node:http` or `node:https`) at a
 * path. Iterate it for the incoming links.
 */
export interface WebSocketHandler extends AsyncIterable<Link> {
  readonly path: string
  /**
   * Takes an `'upgrade'` event if it is for this endpoint's path (and answers it); returns false
   * otherwise, so you can route other upgrades yourself.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean
  /**
   * Listens to the server's `'upgrade'` event. Upgrades for other paths are left to your other
   * `'upgrade'` listeners; when there are none they are answered `404`. Returns a function that
   * detaches it.
   */
  attach(server: HttpServer | HttpsServer): () => void
  /** Stops accepting (new upgrades get `503`). Links already accepted stay open. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  426: 'Upgrade Required',
  503: 'Service Unavailable',
}

/** Answers an upgrade request with an ordinary HTTP response and closes the socket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string> = {},
) {
  if (socket.destroyed) return
  const body = `${message}\n`
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

/**
 * Makes a libswarm WebSocket endpoint to attach to an existing HTTP/1.1 server.
 *
 * @example
 * const server = http.createServer(app)
 * const endpoint = websocketHandler({ path: '/swarm', token: process.env.SWARM_TOKEN })
 * endpoint.attach(server)
 * server.listen(8080)
 * for await (const link of endpoint) {
 *   // hand `link` to the session layer
 * }
 */
export function websocketHandler(options: WebSocketHandlerOptions = {}): WebSocketHandler {
  const path = options.path ?? '/'
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidArgumentError(
      `[transport-websocket] option "path" must be a string starting with "/", got ${JSON.stringify(path)}`,
    )
  }
  if (
    options.token !== undefined &&
    typeof options.token !== 'string' &&
    typeof options.token !== 'function'
  ) {
    throw new InvalidArgumentError('[transport-websocket] option "token" must be a string or a function')
  }
  if (typeof options.token === 'string' && options.token.length === 0) {
    throw new InvalidArgumentError('[transport-websocket] option "token" must not be empty')
  }
  const max = options.maxPendingLinks ?? 128
  const links: Link[] = []
  const waiters: Array<(result: IteratorResult<Link>) => void> = []
  let closed = false
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  })

  const pathOf = (url: string | undefined): { pathname: string; query: URLSearchParams } => {
    const u = new URL(url ?? '/', 'http://x')
    return { pathname: u.pathname, query: u.searchParams }
  }

  const hasRoom = () => !closed && (waiters.length > 0 || links.length < max)

  const push = (link: Link) => {
    const waiter = waiters.shift()
    if (waiter) waiter({ value: link, done: false })
    else links.push(link)
  }

  const admit = async (req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams) => {
    const token = bearerToken(req.headers.authorization) ?? query.get('access_token') ?? undefined
    const result = await checkToken(options.token, token, 'libswarm WebSocket endpoint')
    if (!result.ok) {
      return refuseUpgrade(socket, result.status, result.message, { 'WWW-Authenticate': result.challenge })
    }
    const remote = req.socket.remoteAddress
    const address =
      remote === undefined
        ? undefined
        : remote.includes(':')
          ? `[${remote}]:${req.socket.remotePort}`
          : `${remote}:${req.socket.remotePort}`
    // The token check's identity, else the verified client certificate (mutual TLS), as transport-tls reports it.
    const identity = result.identity ?? tlsIdentity(req.socket as TLSSocket)
    const peer: PeerInfo = { transport: 'websocket', address, identity }
    if (options.authenticate) {
      let allowed = false
      try {
        allowed = (await options.authenticate(peer)) === true
      } catch {
        allowed = false
      }
      if (!allowed) {
        return refuseUpgrade(
          socket,
          403,
          'this libswarm WebSocket endpoint refused the connection (authenticate hook)',
        )
      }
    }
    if (!hasRoom()) {
      return refuseUpgrade(
        socket,
        503,
        'this libswarm WebSocket endpoint is busy or closed; try again later',
        {
          'Retry-After': '1',
        },
      )
    }
    if (socket.destroyed) return
    wss.handleUpgrade(req, socket, head, (ws) => {
      const link = wsLink(nodePort(ws), peer, `the peer ${address ?? '(unknown)'}`)
      if (hasRoom()) push(link)
      else link.destroy()
    })
  }

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const { pathname, query } = pathOf(req.url)
    if (pathname !== path) return false
    socket.on('error', () => {})
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket') {
      refuseUpgrade(socket, 400, 'this is a libswarm WebSocket endpoint: connect with a WebSocket client')
      return true
    }
    if (closed) {
      refuseUpgrade(socket, 503, 'this libswarm WebSocket endpoint is closed')
      return true
    }
    admit(req, socket, head, query).catch(() => socket.destroy())
    return true
  }

  const close = () => {
    if (!closed) {
      closed = true
      for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true })
    }
    return Promise.resolve()
  }

  return {
    path,
    handleUpgrade,
    attach(server) {
      const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (handleUpgrade(req, socket, head)) return
        if (server.listenerCount('upgrade') === 1) {
          socket.on('error', () => {})
          refuseUpgrade(socket, 404, `no WebSocket endpoint at this path; the libswarm endpoint is ${path}`)
        }
      }
      server.on('upgrade', listener)
      return () => {
        server.off('upgrade', listener)
      }
    },
    close,
    [Symbol.asyncDispose]: close,
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const link = links.shift()
        if (link) return Promise.resolve({ value: link, done: false as const })
        if (closed) return Promise.resolve({ value: undefined, done: true as const })
        return new Promise<IteratorResult<Link>>((resolve) => waiters.push(resolve))
      },
      return: () => Promise.resolve({ value: undefined, done: true as const }),
    }),
  }
}
