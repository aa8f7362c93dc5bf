/**
 * @libswarm/transport-tcp: libswarm sessions over plain TCP (`tcp://host:port`), and a TCP gateway
 * that forwards local TCP connections through a channel to a remote end that dials the real target.
 *
 * @example
 * import { connect, listen } from '@libswarm/core'
 * import { tcp } from '@libswarm/transport-tcp'
 *
 * const server = await listen('tcp://127.0.0.1:0', { transports: [tcp()] })
 * const session = await connect(server.url, { transports: [tcp()] })
 *
 * @packageDocumentation
 */
export {
  type Gateway,
  type GatewayConnection,
  type GatewayListenOptions,
  type GatewayTargetOptions,
  gatewayListen,
  gatewayTarget,
} from './gateway.ts'
export { type TcpOptions, tcp } from './tcp.ts'
