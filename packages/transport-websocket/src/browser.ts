/**
 * @libswarm/transport-websocket, browser entry: the client only, on the global `WebSocket`.
 * Bundlers pick this file through the `browser` export condition.
 *
 * @example
 * import { websocket } from '@libswarm/transport-websocket'
 *
 * const link = await websocket().dial(new URL('wss://swarm.example/swarm'), { token: 's3cret' })
 * // hand `link` to the session layer of @libswarm/core
 *
 * @packageDocumentation
 */
import { InvalidArgumentError, type Transport } from '@libswarm/core'
import { type BrowserDialOptions, dialBrowserWebSocket } from './client.ts'

export { type BrowserDialOptions, dialBrowserWebSocket, type WebSocketConstructor } from './client.ts'
export type { WebSocketDialOptions } from './internal/common.ts'
export type { BrowserWebSocket } from './internal/ws-link.ts'

/** The WebSocket transport in a browser: dials `ws://` and `wss://`; cannot listen. */
export function websocket(options: BrowserDialOptions = {}): Transport {
  return {
    name: 'websocket',
    schemes: ['ws', 'wss'],
    dial: (url, dialOptions) => dialBrowserWebSocket(url, { ...options, ...dialOptions }),
    listen: () =>
      Promise.reject(
        new InvalidArgumentError(
          '[transport-websocket] a browser cannot listen for WebSocket connections; listen on a server (Node) and dial it from here',
        ),
      ),
  }
}
