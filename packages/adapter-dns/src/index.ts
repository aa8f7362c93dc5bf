/**
 * @libswarm/adapter-dns: DNS SRV records as a read-only libswarm service.
 *
 * `dns NAME [SERVER]` looks up the SRV records of NAME (at SERVER, or the system's resolvers). Ls
 * lists the targets (`target:port`), Get describes them in the order a client should try them
 * (lowest priority first, then heaviest weight), Attach TARGET:PORT gives one, and Watch looks the
 * name up again when the answer's TTL runs out (kept between `--min-ttl` and `--max-ttl`) and
 * reports each target created, changed or deleted.
 *
 * @example
 * import { Client, pipe } from '@libswarm/core'
 * import { backend } from '@libswarm/adapter-dns'
 *
 * const service = await backend.spawn(['_web._tcp.example.test', '127.0.0.1:5353'], context)
 * const client = new Client(service)
 * console.log(await client.ls()) // ['host1.example.test:8080', ...]
 * for await (const event of await client.watch()) console.log(event) // {type: 'create', name, record}
 *
 * @packageDocumentation
 */
import { type Backend, InvalidArgumentError } from '@libswarm/core'
import { numberOption, parseArgs } from './internal/args.ts'
import { srvService } from './internal/service.ts'
import { SrvSource } from './internal/source.ts'
import { parseServer } from './internal/srv.ts'

export type { SrvChange, SrvSnapshot, SrvSourceOptions } from './internal/source.ts'
export { SrvSource } from './internal/source.ts'
export type { DnsServer, SrvRecord } from './internal/srv.ts'
export { parseServer } from './internal/srv.ts'

const USAGE = 'dns NAME [SERVER] [--min-ttl=SECONDS] [--max-ttl=SECONDS] [--timeout=MS]'
const OPTIONS = { 'min-ttl': true, 'max-ttl': true, timeout: true }

/**
 * The `dns` backend: `dns NAME [SERVER] [--min-ttl=SECONDS] [--max-ttl=SECONDS] [--timeout=MS]`.
 * - NAME: the SRV name, e.g. `_http._tcp.example.com`.
 * - SERVER: `host[:port]` or `dns://host:port` of a DNS server. Default: the system's resolvers.
 * - `--min-ttl`: shortest wait between lookups while watching, in seconds. Default: 5.
 * - `--max-ttl`: longest wait between lookups while watching, in seconds. Default: 300.
 * - `--timeout`: milliseconds to wait for one answer. Default: 2000.
 */
export const backend: Backend = {
  name: 'dns',
  summary:
    'DNS SRV records as a read-only service: Ls the targets, Get them in order, Watch re-resolves on the TTL',
  usage: USAGE,
  capabilities: { verbs: ['Attach', 'Get', 'Ls', 'Watch'], watch: true },
  spawn(args, context) {
    const parsed = parseArgs(args, OPTIONS, USAGE, 'adapter-dns')
    const [name, server, ...extra] = parsed.positional
    if (!name || extra.length > 0) {
      throw new InvalidArgumentError(
        `[adapter-dns] ${name ? `unexpected argument "${extra[0]}"` : 'missing the SRV name'}; usage: ${USAGE}`,
      )
    }
    const source = new SrvSource(name, {
      servers: server === undefined ? undefined : [withUsage(() => parseServer(server))],
      minTtl: numberOption(parsed, 'min-ttl', 5, USAGE, 'adapter-dns'),
      maxTtl: numberOption(parsed, 'max-ttl', 300, USAGE, 'adapter-dns'),
      timeout: numberOption(parsed, 'timeout', 2000, USAGE, 'adapter-dns'),
      log: (line) => context.log(line),
    })
    const service = srvService(source, { fallback: context.out })
    // Shutting the pipeline down ends every Watch (their loops honour the call's signal).
    context.signal.addEventListener('abort', () => void service.close(), { once: true })
    return service
  },
}

function withUsage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}; usage: ${USAGE}`)
  }
}
