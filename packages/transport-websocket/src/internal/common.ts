/**
 * Pieces both entries share (browser-safe: no Node imports): URL parsing, option types and the
 * errors for a refused upgrade.
 */
import { HandshakeError, InvalidArgumentError, UnauthorizedError, UnavailableError } from '@libswarm/core'

/** The WebSocket subprotocol a libswarm endpoint selects. */
export const SUBPROTOCOL = 'libswarm'

/** A parsed `ws://` / `wss://` URL. */
export interface Target {
  secure: boolean
  host: string
  port: number
  /** The URL to open (the path and query kept). */
  href: string
  /** The URL for messages (no query: it may hold a token). */
  printable: string
  path: string
}

export function parseUrl(url: URL | string): Target {
  let u: URL
  try {
    u = typeof url === 'string' ? new URL(url) : new URL(url.href)
  } catch (cause) {
    throw new InvalidArgumentError(`[transport-websocket] not a URL: ${JSON.stringify(String(url))}`, {
      cause,
    })
  }
  const scheme = u.protocol.slice(0, -1)
  if (scheme !== 'ws' && scheme !== 'wss') {
    throw new InvalidArgumentError(
      `[transport-websocket] unsupported URL scheme "${scheme}:" in ${u.origin === 'null' ? u.protocol : u.origin}; use ws://host:port/path or wss://host:port/path`,
    )
  }
  if (!u.hostname) {
    throw new InvalidArgumentError(
      `[transport-websocket] the URL ${u.href} has no host; use ${scheme}://host:port/path`,
    )
  }
  if (u.hash) u.hash = ''
  const secure = scheme === 'wss'
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port)
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  return {
    secure,
    host,
    port,
    href: u.href,
    printable: `${scheme}://${u.host}${u.pathname}`,
    path: u.pathname || '/',
  }
}

/** Options of the client, shared by the browser and Node entries. */
export interface WebSocketDialOptions {
  /**
   * Bearer token. Node sends it as `Authorization: Bearer <token>`; a browser cannot set headers, so
   * there it goes in the `access_token` query parameter (RFC 6750 §2.3; it may show up in proxy
   * logs: prefer short-lived tokens). Default: none.
   */
  token?: string
  /** How long opening the WebSocket may take, in ms. Default 30 000. */
  connectTimeout?: number
}

export function checkToken(token: unknown): string | undefined {
  if (token === undefined) return undefined
  if (typeof token !== 'string' || token.length === 0) {
    throw new InvalidArgumentError('[transport-websocket] option "token" must be a non-empty string')
  }
  return token
}

/** The error for an upgrade request answered with an ordinary HTTP response. */
export function statusError(status: number, body: string, printable: string, sentToken: boolean): Error {
  const detail = body ? `: ${body}` : ''
  if (status === 401) {
    return new UnauthorizedError(
      sentToken
        ? `[transport-websocket] ${printable} refused the bearer token (HTTP 401)${detail}`
        : `[transport-websocket] ${printable} requires a bearer token (HTTP 401); pass { token }${detail}`,
    )
  }
  if (status === 403) {
    return new UnauthorizedError(
      `[transport-websocket] ${printable} refused the connection (HTTP 403)${detail}`,
    )
  }
  if (status === 502 || status === 503 || status === 504) {
    return new UnavailableError(`[transport-websocket] ${printable} is unavailable (HTTP ${status})${detail}`)
  }
  return notLibswarm(printable, `it answered HTTP ${status} instead of switching to WebSocket${detail}`)
}

export function notLibswarm(printable: string, why: string): Error {
  return new HandshakeError(
    `[transport-websocket] ${printable} is not a libswarm WebSocket endpoint: ${why}; check the URL's path`,
  )
}
