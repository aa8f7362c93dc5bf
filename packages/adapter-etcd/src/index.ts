/**
 * @libswarm/adapter-etcd: etcd as a libswarm service.
 *
 * `etcd URL [PREFIX]` makes the keys under PREFIX a tree of services: Ls lists the children, Attach
 * NAME gives one, Get returns a key's value (parsed when it is JSON), Set puts, Watch streams put and
 * delete events with their revisions (resuming after a lost connection without losing or repeating
 * one), and Spawn NAME VALUE puts a key under a lease that lives as long as the instance: Stop (or the
 * process dying) makes the key go away. That is how workers register themselves, and `discover()`
 * follows them.
 *
 * @example
 * import { Client, notImplemented } from '@libswarm/core'
 * import { backend } from '@libswarm/adapter-etcd'
 *
 * const controller = new AbortController()
 * const context = { out: notImplemented, signal: controller.signal, log: console.error,
 *   spawn: () => { throw new Error('not needed here') } }
 * const root = new Client(await backend.spawn(['http://127.0.0.1:2379', '/swarm'], context))
 * const worker = await root.spawn(['worker-1', 'tcp://10.0.0.5:4000', '--ttl=5'])
 * console.log(await root.ls()) // ['worker-1']
 * await worker.stop() // the key is gone
 * controller.abort()
 *
 * @packageDocumentation
 */
import { type Backend, InvalidArgumentError } from '@libswarm/core'
import type { Etcd3 } from 'etcd3'
import { numberOption, parseArgs } from './internal/args.ts'
import { connectEtcd, type EtcdConnectOptions, parseEndpoints } from './internal/client.ts'
import { Registration } from './internal/registration.ts'
import { nodeService } from './internal/tree.ts'

export type { EtcdConnectOptions } from './internal/client.ts'
export { connectEtcd } from './internal/client.ts'
export type { DiscoverOptions, Endpoints } from './internal/discovery.ts'
export { discover } from './internal/discovery.ts'
export type { RegistrationOptions } from './internal/registration.ts'
export { Registration } from './internal/registration.ts'
export type { EtcdEvent, WatchOptions } from './internal/watch.ts'
export { watchPrefix } from './internal/watch.ts'

const USAGE =
  'etcd URL[,URL...] [PREFIX] [--ttl=SECONDS] [--timeout=MS] [--register=NAME=VALUE] [--user=NAME] (password in $ETCD_PASSWORD)'
const OPTIONS = { ttl: true, timeout: true, register: true, user: true }

/** Options of {@link register}. */
export interface RegisterOptions extends EtcdConnectOptions {
  /** Seconds the key outlives its process. Default: 10. */
  ttl?: number
  /** Called with lines about lost and renewed leases. */
  log?: (line: string) => void
}

/**
 * Registers `value` (e.g. the URL a swarmd listens on) as `prefix/name` under a lease kept alive
 * until `stop()` (or the process dies and the TTL runs out). Opens its own client on `url`.
 *
 * @example
 * const registration = await register('http://127.0.0.1:2379', '/swarmd', 'node-1', 'tcp://10.0.0.5:4000')
 * // ... serve ...
 * await registration.stop()
 */
export async function register(
  url: string | Etcd3,
  prefix: string,
  name: string,
  value: string,
  options: RegisterOptions = {},
): Promise<Registration & { close(): Promise<void> }> {
  const owned = typeof url === 'string'
  const client =
    typeof url === 'string'
      ? connectEtcd(parseEndpoints(url, 'register(URL, PREFIX, NAME, VALUE)'), options)
      : url
  const registration = new Registration(client, `${prefix.replace(/\/+$/, '')}/${name}`, value, {
    ttl: options.ttl,
    log: options.log,
    where: typeof url === 'string' ? url : 'etcd',
  }) as Registration & { close(): Promise<void> }
  registration.close = async () => {
    await registration.stop()
    if (owned) client.close()
  }
  try {
    await registration.start()
  } catch (error) {
    if (owned) client.close()
    throw error
  }
  return registration
}

/**
 * The `etcd` backend:
 * `etcd URL[,URL...] [PREFIX] [--ttl=SECONDS] [--timeout=MS] [--register=NAME=VALUE] [--user=NAME]`.
 * - URL: etcd client URL(s), e.g. `http://127.0.0.1:2379`.
 * - PREFIX: the key the tree starts at; children are `PREFIX/NAME`. Default: `` (keys `/NAME`).
 * - `--ttl`: the lease TTL of Spawn and `--register`, in seconds. Default: 10.
 * - `--timeout`: milliseconds a single etcd request may take. Default: 5000.
 * - `--register=NAME=VALUE`: while this instance runs, hold `PREFIX/NAME` = VALUE under a lease
 *   (how a swarmd announces the URL it listens on). Default: none.
 * - `--user`: etcd username; the password is read from `$ETCD_PASSWORD`. Default: no auth.
 */
export const backend: Backend = {
  name: 'etcd',
  summary:
    'etcd keys as a tree of services: Ls/Attach/Get/Set/Watch, Spawn keys under leases, service discovery',
  usage: USAGE,
  capabilities: {
    verbs: ['Attach', 'Get', 'Ls', 'Set', 'Spawn', 'Watch'],
    watch: true,
    spawn: true,
    startStop: true,
  },
  async spawn(args, context) {
    const parsed = parseArgs(args, OPTIONS, USAGE, 'adapter-etcd')
    const [url, rawPrefix = '', ...extra] = parsed.positional
    if (url === undefined || extra.length > 0) {
      throw new InvalidArgumentError(
        `[adapter-etcd] ${url === undefined ? 'missing the etcd URL' : `unexpected argument "${extra[0]}"`}; usage: ${USAGE}`,
      )
    }
    const hosts = parseEndpoints(url, USAGE)
    const prefix = rawPrefix.replace(/\/+$/, '')
    const ttl = numberOption(parsed, 'ttl', 10, USAGE, 'adapter-etcd')
    const timeout = numberOption(parsed, 'timeout', 5000, USAGE, 'adapter-etcd')
    const registerSpec = parsed.options.get('register')
    const eq = registerSpec?.indexOf('=') ?? -1
    if (registerSpec !== undefined && eq < 1) {
      throw new InvalidArgumentError(
        `[adapter-etcd] --register needs NAME=VALUE, got "${registerSpec}"; usage: ${USAGE}`,
      )
    }
    const user = parsed.options.get('user')
    if (user !== undefined && process.env.ETCD_PASSWORD === undefined) {
      throw new InvalidArgumentError(
        `[adapter-etcd] --user is set but $ETCD_PASSWORD is not; put the password there; usage: ${USAGE}`,
      )
    }
    const client = connectEtcd(hosts, {
      timeout,
      auth: user === undefined ? undefined : { username: user, password: process.env.ETCD_PASSWORD! },
    })
    const tree = {
      client,
      where: hosts.join(','),
      ttl,
      timeout,
      log: (line: string) => context.log(line),
      registrations: new Set<Registration>(),
    }
    let registration: Registration | undefined
    if (registerSpec !== undefined) {
      registration = new Registration(
        client,
        `${prefix}/${registerSpec.slice(0, eq)}`,
        registerSpec.slice(eq + 1),
        {
          ttl,
          log: tree.log,
          where: tree.where,
        },
      )
      try {
        await registration.start()
      } catch (error) {
        client.close()
        throw error
      }
    }
    const root = nodeService(tree, prefix, { root: true, fallback: context.out })
    let closing: Promise<void> | undefined
    const close = () =>
      (closing ??= (async () => {
        // Revoke every lease this instance holds (the keys go now, not after the TTL), then disconnect.
        const held = [registration, ...tree.registrations].filter((r) => r !== undefined)
        tree.registrations.clear()
        await Promise.allSettled(held.map((r) => r.stop()))
        await root.close()
        client.close()
      })())
    context.signal.addEventListener('abort', () => void close(), { once: true })
    root.closed.then(() => void close())
    return root
  },
}
