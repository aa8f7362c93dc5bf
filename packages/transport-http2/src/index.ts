/**
 * @libswarm/transport-http2: libswarm sessions over HTTP/2.
 *
 * A session rides ONE ordinary HTTP/2 request: a POST whose request body carries the bytes one way
 * and whose response body carries them the other way, both streaming. So it passes standard HTTP/2
 * reverse proxies (nghttpx, envoy, ...) and auth middleware. URLs: `http2://host:port/path`
 * (cleartext h2c) and `https://host:port/path` (h2 over TLS, certificates checked by default).
 * The server side listens on its own, or mounts on an existing `node:http2` server at a path with
 * {@link http2Handler}, optionally requiring a bearer token.
 *
 * @example
 * import { http2 } from '@libswarm/transport-http2'
 *
 * const transport = http2()
 * const listener = await transport.listen(new URL('http2://127.0.0.1:0/swarm'), { serverToken: 's3cret' })
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
export { type Http2Handler, type Http2HandlerOptions, http2Handler, LIBSWARM_CONTENT_TYPE } from './server.ts'
export { type Http2TlsOptions, type Http2TransportOptions, http2 } from './transport.ts'
