/**
 * @libswarm/transport-websocket: libswarm sessions over WebSocket (`ws://`, `wss://`).
 *
 * On Node, the server side is the `ws` package: listen on its own, or attach to an HTTP/1.1 server
 * you already have (`node:http` / `node:https`) at a path with {@link websocketHandler} (the HTTP/1
 * fallback for places where HTTP/2 does not pass), optionally requiring a bearer token. The client
 * also runs in browsers: bundlers pick the `browser` entry, which uses the global `WebSocket` and
 * has no Node imports. Binary messages carry the bytes; backpressure follows `bufferedAmount`.
 *
 * @example
 * import { websocket } from '@libswarm/transport-websocket'
 *
 * const transport = websocket()
 * const listener = await transport.listen(new URL('ws://127.0.0.1:0/swarm'), { serverToken: 's3cret' })
 * ;(async () => {
 *   for await (const link of listener) {
 *     link.start({
 *       data: (bytes) => link.write(bytes), // echo
 *       end: () => link.end(),
 *       error: (error) => console.error(error),
 *       drain: () => {},
 *       close: () => {},
 *     })
 *   }
 * })()
 *
 * const link = await transport.dial(listener.url, { token: 's3cret' })
 * link.start({
 *   data: (bytes) => console.log(new TextDecoder().decode(bytes)), // "hello"
 *   end: () => link.end(),
 *   error: (error) => console.error(error),
 *   drain: () => {},
 *   close: () => listener.close(),
 * })
 * link.write(new TextEncoder().encode('hello'))
 * link.end()
 *
 * @packageDocumentation
 */

export type { TokenCheck } from '@libswarm/core/node'
export {
  type BrowserDialOptions,
  dialBrowserWebSocket,
  type WebSocketConstructor,
} from './client.ts'
export type { WebSocketDialOptions } from './internal/common.ts'
export type { BrowserWebSocket } from './internal/ws-link.ts'
export { type WebSocketHandler, type WebSocketHandlerOptions, websocketHandler } from './server.ts'
export { type WebSocketTlsOptions, type WebSocketTransportOptions, websocket } from './transport.ts'
