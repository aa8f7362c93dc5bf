import type {
  Http2SecureServer,
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  IncomingHttpHeaders,
  ServerHttp2Stream,
} from 'node:http2'
import type { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { InvalidArgumentError, type Link, type PeerInfo } from '@libswarm/core'
import { bearerToken, checkToken, type TokenCheck, tlsIdentity } from '@libswarm/core/node'
import { LinkQueue } from './internal/link-queue.ts'
import { refuse } from './internal/refuse.ts'
import { streamLink } from './internal/stream-link.ts'

/** The content type of a libswarm session's request and response bodies. */
export const LIBSWARM_CONTENT_TYPE = 'application/x-libswarm'

/** Options of {@link http2Handler}. */
export interface Http2HandlerOptions {
  /** The path the endpoint answers on (exact match; the query string is ignored). Default `/`. */
  path?: string
  /**
   * Requires `Authorization: Bearer <token>` on every session request. A string is compared in
   * constant time; a function gets the presented token and returns an identity (any truthy value;
   * `true` for none) or a falsy value / throws to refuse it. A missing or refused token is answered
   * `401` with a `WWW-Authenticate: Bearer` challenge. Default: no token required.
   */
  token?: TokenCheck
  /**
   * Decides, after the token check, whether a session may proceed; gets the peer (address and the
   * token's identity). Return false or throw to answer `403`. Default: accept.
   */
  authenticate?: (peer: PeerInfo) => boolean | Promise<boolean>
  /**
   * How many accepted links may wait for the iterator to take them; more are answered `503`.
   * Default 128.
   */
  maxPendingLinks?: number
}

/**
 * A libswarm endpoint mounted on an existing `node:http2` server at a path. Iterate it to get the
 * incoming links (hand each to the session layer). Wire it in one of three ways:
 * - `handler.attach(server)` when the server has no other `'stream'`/`'request'` routes on that path;
 * - `if (handler.handleStream(stream, headers)) return` at the top of your `'stream'` listener;
 * - `if (handler.handleRequest(req, res)) return` at the top of your compatibility-API request handler.
 */
export interface Http2Handler extends AsyncIterable<Link> {
  /** The path it answers on. */
  readonly path: string
  /** Takes a stream if it is for this endpoint's path (and answers it); returns false otherwise. */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean
  /** The same for the compatibility API (`createServer((req, res) => ...)`). */
  handleRequest(req: Http2ServerRequest, res: Http2ServerResponse): boolean
  /** Listens to the server's `'stream'` event; returns a function that detaches it again. */
  attach(server: Http2Server | Http2SecureServer): () => void
  /** Stops accepting: new session requests are answered `503`. Links already accepted stay open. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Makes a libswarm endpoint to mount on an existing `node:http2` server (h2c or TLS) at a path.
 *
 * @example
 * const server = http2.createServer()
 * const endpoint = http2Handler({ path: '/swarm', token: process.env.SWARM_TOKEN })
 * endpoint.attach(server)
 * server.listen(8080)
 * for await (const link of endpoint) {
 *   // hand `link` to the session layer
 * }
 */
export function http2Handler(options: Http2HandlerOptions = {}): Http2Handler {
  const path = options.path ?? '/'
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidArgumentError(
      `[transport-http2] option "path" must be a string starting with "/", got ${JSON.stringify(path)}`,
    )
  }
  if (
    options.token !== undefined &&
    typeof options.token !== 'string' &&
    typeof options.token !== 'function'
  ) {
    throw new InvalidArgumentError('[transport-http2] option "token" must be a string or a function')
  }
  if (typeof options.token === 'string' && options.token.length === 0) {
    throw new InvalidArgumentError('[transport-http2] option "token" must not be empty')
  }
  const queue = new LinkQueue(options.maxPendingLinks ?? 128)

  const matches = (headers: IncomingHttpHeaders): boolean => {
    const raw = headers[':path']
    if (typeof raw !== 'string') return false
    const q = raw.indexOf('?')
    return (q === -1 ? raw : raw.slice(0, q)) === path
  }

  const accept = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, source?: Readable) => {
    if (headers[':method'] !== 'POST') {
      refuse(
        stream,
        405,
        `this is a libswarm HTTP/2 endpoint: a session is a POST with content-type ${LIBSWARM_CONTENT_TYPE}`,
        { allow: 'POST' },
      )
      return
    }
    if (queue.closed) return refuse(stream, 503, 'this libswarm endpoint is closed')
    void admit(stream, headers, source)
  }

  const admit = async (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, source?: Readable) => {
    const socket = stream.session?.socket
    const address =
      socket?.remoteAddress === undefined
        ? undefined
        : socket.remoteAddress.includes(':')
          ? `[${socket.remoteAddress}]:${socket.remotePort}`
          : `${socket.remoteAddress}:${socket.remotePort}`
    const tokenResult = await checkToken(options.token, bearerToken(headers.authorization))
    if (!tokenResult.ok) {
      return refuse(stream, tokenResult.status, tokenResult.message, {
        'www-authenticate': tokenResult.challenge,
      })
    }
    // The token check's identity, else the verified client certificate (mutual TLS), as transport-tls reports it.
    const identity = tokenResult.identity ?? (socket ? tlsIdentity(socket as TLSSocket) : undefined)
    const peer: PeerInfo = { transport: 'http2', address, identity }
    if (options.authenticate) {
      let allowed = false
      try {
        allowed = (await options.authenticate(peer)) === true
      } catch {
        allowed = false
      }
      if (!allowed)
        return refuse(stream, 403, 'this libswarm endpoint refused the connection (authenticate hook)')
    }
    if (stream.destroyed || stream.closed) return
    if (!queue.hasRoom) {
      return refuse(stream, 503, 'this libswarm endpoint is busy or closed; try again later', {
        'retry-after': '1',
      })
    }
    stream.respond({
      ':status': 200,
      'content-type': LIBSWARM_CONTENT_TYPE,
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    const link = streamLink(stream, peer, `the peer ${address ?? '(unknown)'}`, undefined, source)
    if (!queue.push(link)) link.destroy()
  }

  const handleStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean => {
    if (!matches(headers)) return false
    if (stream.headersSent || stream.destroyed) return true
    accept(stream, headers)
    return true
  }

  const handleRequest = (req: Http2ServerRequest, res: Http2ServerResponse): boolean => {
    if (!matches({ ':path': req.url })) return false
    if (req.httpVersionMajor !== 2) {
      res.writeHead(505, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('this libswarm endpoint needs HTTP/2; for HTTP/1.1 use the websocket transport\n')
      return true
    }
    if (req.stream.headersSent || req.stream.destroyed) return true
    accept(req.stream, req.headers, req)
    return true
  }

  return {
    path,
    handleStream,
    handleRequest,
    attach(server) {
      const listener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
        handleStream(stream, headers)
      }
      server.on('stream', listener)
      return () => {
        server.off('stream', listener)
      }
    },
    close() {
      queue.close()
      return Promise.resolve()
    },
    [Symbol.asyncDispose]() {
      queue.close()
      return Promise.resolve()
    },
    [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator](),
  }
}
