/**
 * The browser-safe client: dials with the global `WebSocket` (or one you pass). No Node imports.
 */
import { abortErrorFrom, type DialOptions, type Link, UnavailableError } from '@libswarm/core'
import {
  checkToken,
  notLibswarm,
  parseUrl,
  SUBPROTOCOL,
  type WebSocketDialOptions,
} from './internal/common.ts'
import { type BrowserWebSocket, browserPort, wsLink } from './internal/ws-link.ts'

/** A constructor with the browser's WebSocket API. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => BrowserWebSocket

/** Options of {@link dialBrowserWebSocket}. */
export interface BrowserDialOptions extends WebSocketDialOptions {
  /** The WebSocket class to use. Default: `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor
}

/**
 * Dials a libswarm WebSocket endpoint with a browser-style WebSocket. The browser does not say why a
 * connection failed (refused, 401, not a libswarm endpoint all look the same), so the error lists
 * the possibilities; the Node client tells them apart.
 */
export async function dialBrowserWebSocket(
  url: URL,
  options: BrowserDialOptions & DialOptions = {},
): Promise<Link> {
  const target = parseUrl(url)
  const token = checkToken(options.token)
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (!Ctor) {
    throw new UnavailableError(
      '[transport-websocket] no WebSocket class here: pass { WebSocket } (on Node, import @libswarm/transport-websocket normally; it uses the ws package)',
      { retryable: false },
    )
  }
  if (options.signal?.aborted) throw abortErrorFrom(options.signal)
  const href = new URL(target.href)
  if (token !== undefined) href.searchParams.set('access_token', token)
  const socket = new Ctor(href.href, [SUBPROTOCOL])
  const port = browserPort(socket)
  const timeoutMs = options.connectTimeout ?? 30_000

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      socket.close()
      reject(
        new UnavailableError(
          `[transport-websocket] opening ${target.printable} timed out after ${timeoutMs} ms (option connectTimeout)`,
        ),
      )
    }, timeoutMs)
    const onAbort = () => {
      cleanup()
      socket.close()
      reject(abortErrorFrom(options.signal!))
    }
    const onOpen = () => {
      cleanup()
      resolve()
    }
    const onClose = (event: { code: number }) => {
      cleanup()
      reject(
        new UnavailableError(
          `[transport-websocket] could not open a WebSocket to ${target.printable} (close code ${event.code}): ` +
            'the server is down or refused the connection, the bearer token was refused, or it is not a libswarm ' +
            'endpoint; the browser does not say which (its developer console does)',
        ),
      )
    }
    // A browser reports nothing useful in 'error' ('close' follows); some implementations throw without a listener.
    const onError = () => {}
    const cleanup = () => {
      clearTimeout(timer)
      socket.removeEventListener('error', onError)
      options.signal?.removeEventListener('abort', onAbort)
      socket.removeEventListener('open', onOpen)
      socket.removeEventListener('close', onClose)
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    socket.addEventListener('error', onError)
    socket.addEventListener('open', onOpen)
    socket.addEventListener('close', onClose)
  })
  if (socket.protocol !== SUBPROTOCOL) {
    socket.close(1002, 'not libswarm')
    throw notLibswarm(target.printable, `it did not select the "${SUBPROTOCOL}" subprotocol`)
  }
  return wsLink(port, { transport: 'websocket', address: target.printable }, target.printable)
}
