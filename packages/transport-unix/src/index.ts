/**
 * @libswarm/transport-unix: libswarm sessions over unix sockets (`unix:///path`). Attachments (a
 * `net.Socket`, an open file) pass as real file descriptors with SCM_RIGHTS, through a small native
 * addon built at install time; without it, links report `canPassFds = false` and the session copies
 * bytes instead.
 *
 * @example
 * import { connect, listen } from '@libswarm/core'
 * import { unix } from '@libswarm/transport-unix'
 *
 * const server = await listen('unix:///tmp/swarm.sock', { transports: [unix()] })
 * const session = await connect('unix:///tmp/swarm.sock', { transports: [unix()] })
 *
 * @packageDocumentation
 */
export { fdPassingAvailable, fdPassingUnavailableReason, type UnixOptions, unix } from './unix.ts'
