/**
 * @libswarm/adapter-consul: Consul as a libswarm service.
 *
 * `consul [URL]` talks to a Consul agent over its HTTP API. Ls lists the catalog's services; Attach
 * NAME gives one, whose Ls / Get list its instances with their health and whose Watch reports
 * instances created, deleted or changing health. Spawn NAME registers an instance with a TTL check
 * (passed for it while it runs) or an HTTP check; Stop deregisters it, Start registers it again.
 * Get KEY / Set KEY VALUE [CAS] work on the KV store; Watch follows the catalog (or, with a prefix,
 * the KV store) with blocking queries.
 *
 * @example
 * import { Client, notImplemented } from '@libswarm/core'
 * import { backend } from '@libswarm/adapter-consul'
 *
 * const controller = new AbortController()
 * const context = { out: notImplemented, signal: controller.signal, log: console.error,
 *   spawn: () => { throw new Error('not needed here') } }
 * const consul = new Client(await backend.spawn(['http://127.0.0.1:8500'], context))
 * const web = await consul.spawn(['web', '--port=8080', '--ttl=10s'])
 * console.log(await consul.ls()) // ['consul', 'web']
 * await consul.set(['config/web', '{"replicas":3}'])
 * await web.stop() // deregistered
 * controller.abort()
 *
 * @packageDocumentation
 */
import { type Backend, InvalidArgumentError } from '@libswarm/core'
import { ConsulApi } from './internal/api.ts'
import { numberOption, parseArgs } from './internal/args.ts'
import { consulService, type Registration } from './internal/service.ts'

export { ConsulApi, type ConsulOptions, type ConsulResponse, parseAddress } from './internal/api.ts'
export { type BlockingOptions, blockingQuery } from './internal/blocking.ts'
export { type Instance, parseDurationMs } from './internal/service.ts'

const USAGE =
  'consul [URL] [--token=TOKEN] [--token-env=VAR] [--dc=DATACENTER] [--wait=SECONDS] [--timeout=MS] [--backoff=MS] [--max-backoff=MS]'
const OPTIONS = {
  token: true,
  'token-env': true,
  dc: true,
  wait: true,
  timeout: true,
  backoff: true,
  'max-backoff': true,
}

/**
 * The `consul` backend:
 * - URL: the agent, `http(s)://HOST:PORT` or `HOST:PORT`. Default: `$CONSUL_HTTP_ADDR`, else
 *   `http://127.0.0.1:8500`.
 * - `--token=T` / `--token-env=VAR`: ACL token (sent as `X-Consul-Token`). Default: `$CONSUL_HTTP_TOKEN`.
 * - `--dc`: datacenter of catalog, health and KV queries. Default: the agent's.
 * - `--wait`: seconds a blocking query may hang. Default: 300.
 * - `--timeout`: milliseconds a plain request may take. Default: 10000.
 * - `--backoff` / `--max-backoff`: retry delays of Watch after errors, in ms. Default: 1000 / 30000.
 */
export const backend: Backend = {
  name: 'consul',
  summary: 'Consul catalog, health, service registration with checks, and KV with blocking-query watches',
  usage: USAGE,
  capabilities: {
    verbs: ['Attach', 'Get', 'Ls', 'Set', 'Spawn', 'Watch'],
    watch: true,
    spawn: true,
    startStop: true,
  },
  spawn(args, context) {
    const parsed = parseArgs(args, OPTIONS, USAGE, 'adapter-consul')
    const [address, ...extra] = parsed.positional
    if (extra.length > 0)
      throw new InvalidArgumentError(`[adapter-consul] unexpected argument "${extra[0]}"; usage: ${USAGE}`)
    let token = parsed.options.get('token')
    const tokenEnv = parsed.options.get('token-env')
    if (tokenEnv !== undefined) {
      token = process.env[tokenEnv]
      if (token === undefined)
        throw new InvalidArgumentError(
          `[adapter-consul] --token-env=${tokenEnv} but $${tokenEnv} is not set; usage: ${USAGE}`,
        )
    }
    const api = new ConsulApi({
      address,
      token,
      datacenter: parsed.options.get('dc'),
      timeout: numberOption(parsed, 'timeout', 10_000, USAGE, 'adapter-consul'),
    })
    const registrations = new Set<Registration>()
    const consul = {
      api,
      log: (line: string) => context.log(line),
      registrations,
      blocking: {
        wait: numberOption(parsed, 'wait', 300, USAGE, 'adapter-consul'),
        minBackoff: numberOption(parsed, 'backoff', 1000, USAGE, 'adapter-consul'),
        maxBackoff: numberOption(parsed, 'max-backoff', 30_000, USAGE, 'adapter-consul'),
        log: (line: string) => context.log(line),
      },
    }
    const root = consulService(consul, { fallback: context.out })
    let closing: Promise<void> | undefined
    const close = () =>
      (closing ??= (async () => {
        await Promise.allSettled([...registrations].map((r) => r.stop()))
        await root.close()
      })())
    context.signal.addEventListener('abort', () => void close(), { once: true })
    root.closed.then(() => void close())
    return root
  },
}
