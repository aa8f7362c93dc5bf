import {
  type CallContext,
  InvalidArgumentError,
  NotFoundError,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import type { Etcd3 } from 'etcd3'
import { numberOption, parseArgs } from './args.ts'
import { etcdError } from './client.ts'
import { Registration } from './registration.ts'
import { watchPrefix } from './watch.ts'

/** What every node of one tree shares. */
export interface TreeContext {
  client: Etcd3
  /** The etcd URL(s), for messages. */
  where: string
  /** Default lease TTL of Spawn, in seconds. */
  ttl: number
  /** Milliseconds a request (or setting up a watch) may take. */
  timeout: number
  log: (line: string) => void
  /** The registrations Spawn made that are not stopped yet; revoked when the tree shuts down. */
  registrations: Set<Registration>
}

const SPAWN_USAGE = 'Spawn NAME [VALUE] [--ttl=SECONDS]'

/**
 * Longest key (in UTF-8 bytes) the adapter sends to etcd. etcd itself only bounds the whole request
 * (1.5 MiB by default) and answers larger ones with an error that its client counts as a server
 * fault, so a caller could otherwise trip the client's circuit breaker for everyone.
 */
export const MAX_KEY_BYTES = 4096
/** Largest value (in UTF-8 bytes) Set and Spawn send to etcd: under etcd's default 1.5 MiB request limit. */
export const MAX_VALUE_BYTES = 1024 * 1024

/** The key of child `name` of node `path` (`name` may hold `/` to go several levels down). */
export function childKey(path: string, name: string): string {
  if (name === '' || name.split('/').some((part) => part === '')) {
    throw new InvalidArgumentError(
      `[adapter-etcd] bad key name "${preview(name)}": it must be non-empty with no empty "/" segments`,
    )
  }
  const key = `${path}/${name}`
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(
      `[adapter-etcd] key "${preview(key)}" is ${Buffer.byteLength(key)} bytes; keys may be at most ${MAX_KEY_BYTES} bytes`,
    )
  }
  return key
}

/** Throws InvalidArgumentError for a value too large to put. */
export function checkValue(key: string, value: string): void {
  const size = Buffer.byteLength(value)
  if (size > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(
      `[adapter-etcd] value for "${preview(key)}" is ${size} bytes; values may be at most ${MAX_VALUE_BYTES} bytes`,
    )
  }
}

/** A name cut short for an error message. */
function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text
}

/** Parses a stored value: JSON if it parses, else the string itself. */
export function decodeValue(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

/**
 * The service for the key `path` and the keys under `path/`:
 * - Ls: the next path segment of every key under `path/` (sorted, unique).
 * - Attach NAME: the node `path/NAME`.
 * - Get: the key's value (parsed as JSON when it is JSON, else the string). A missing key is
 *   NOT_FOUND, except at the root, which describes the tree.
 * - Set VALUE: puts the key. Set NAME VALUE: puts the child `path/NAME`.
 * - Watch [REVISION]: `put`/`delete` events of the key and everything under it, from REVISION
 *   (inclusive) or from now.
 * - Spawn NAME [VALUE] [--ttl=S]: puts `path/NAME` under a lease kept alive while the instance runs;
 *   the instance's Stop revokes it (the key goes), Start puts it again.
 */
export function nodeService(
  tree: TreeContext,
  path: string,
  options: { root?: boolean; fallback?: Service } = {},
): Server {
  const what = (verb: string) => `${verb} "${path || '/'}"`
  const server: Server = new Server(
    {
      async onLs() {
        try {
          const keys = await tree.client.getAll().prefix(`${path}/`).keys()
          const names = new Set<string>()
          for (const key of keys) {
            const segment = key.slice(path.length + 1).split('/')[0]
            if (segment) names.add(segment)
          }
          return names
        } catch (error) {
          throw etcdError(error, what('Ls'), tree.where)
        }
      },
      async onAttach(args) {
        const name = args[0]
        if (!name) return server // no NAME: the node itself
        const key = childKey(path, name)
        let exists: boolean
        try {
          exists =
            (await tree.client.get(key).exists()) ||
            (await tree.client.getAll().prefix(`${key}/`).limit(1).keys()).length > 0
        } catch (error) {
          throw etcdError(error, `Attach "${key}"`, tree.where)
        }
        if (!exists) {
          throw new NotFoundError(
            `[adapter-etcd] no key "${key}" (nor keys under it) in etcd at ${tree.where}; Set it first, or Watch the parent to see it appear`,
          )
        }
        return nodeService(tree, key)
      },
      async onGet() {
        let value: string | null
        try {
          value = await tree.client.get(path).string()
        } catch (error) {
          throw etcdError(error, what('Get'), tree.where)
        }
        if (value !== null) return decodeValue(value)
        if (options.root) return { etcd: tree.where, prefix: path, key: null }
        throw new NotFoundError(
          `[adapter-etcd] no key "${path}" in etcd at ${tree.where}; Ls on its parent lists what exists`,
        )
      },
      async onSet(args) {
        if (args.length === 1) await put(tree, path, args[0]!)
        else if (args.length === 2) await put(tree, childKey(path, args[0]!), args[1]!)
        else {
          throw new InvalidArgumentError(
            '[adapter-etcd] Set takes VALUE (this key) or NAME VALUE (a child key)',
          )
        }
      },
      async onWatch(args, context: CallContext): Promise<AsyncIterable<WatchEvent>> {
        let startRevision: number | undefined
        if (args[0] !== undefined) {
          startRevision = Number(args[0])
          if (!Number.isInteger(startRevision) || startRevision < 1) {
            throw new InvalidArgumentError(
              `[adapter-etcd] Watch takes an optional start revision (a positive integer), got "${args[0]}"`,
            )
          }
        }
        return watchPrefix(tree.client, path, {
          signal: context.signal,
          startRevision,
          log: tree.log,
          where: tree.where,
          connectTimeout: tree.timeout,
        })
      },
      async onSpawn(args) {
        const parsed = parseArgs(args, { ttl: true }, SPAWN_USAGE, 'adapter-etcd')
        const [name, value = '', ...extra] = parsed.positional
        if (name === undefined || extra.length > 0) {
          throw new InvalidArgumentError(`[adapter-etcd] usage: ${SPAWN_USAGE}`)
        }
        const ttl = numberOption(parsed, 'ttl', tree.ttl, SPAWN_USAGE, 'adapter-etcd')
        const key = childKey(path, name)
        checkValue(key, value)
        const registration = new Registration(tree.client, key, value, {
          ttl,
          log: tree.log,
          where: tree.where,
        })
        await registration.start()
        return registrationService(tree, registration)
      },
    },
    { fallback: options.fallback },
  )
  return server
}

async function put(tree: TreeContext, key: string, value: string): Promise<void> {
  checkValue(key, value)
  try {
    await tree.client.put(key).value(value)
  } catch (error) {
    throw etcdError(error, `Set "${key}"`, tree.where)
  }
}

/** The service of a Spawned instance: its key's node, plus Start/Stop of the lease and a Get that reports it. */
export function registrationService(tree: TreeContext, registration: Registration): Server {
  const node = nodeService(tree, registration.key)
  tree.registrations.add(registration)
  const server = new Server(
    {
      // Start holds the key under a live lease, and writes the value again (a put event) even when
      // it already does: "make sure it is registered, now".
      async onStart() {
        tree.registrations.add(registration)
        if (registration.state === 'stopped') await registration.start()
        else await registration.refresh()
      },
      async onStop() {
        tree.registrations.delete(registration)
        await registration.stop()
      },
      async onSet(args) {
        if (args.length !== 1)
          throw new InvalidArgumentError('[adapter-etcd] Set on a spawned key takes VALUE')
        registration.value = args[0]!
        if (registration.state === 'running') {
          try {
            const lease = await registration.leaseId()
            if (lease !== undefined)
              await tree.client.put(registration.key).value(registration.value).lease(lease)
          } catch (error) {
            throw etcdError(error, `Set "${registration.key}"`, tree.where)
          }
        }
      },
      async onGet() {
        return {
          key: registration.key,
          value: decodeValue(registration.value),
          state: registration.state,
          lease: (registration.state === 'stopped' ? undefined : await registration.leaseId()) ?? null,
          ttl: registration.ttl,
        }
      },
    },
    { fallback: node },
  )
  server.closed.then(() => {
    tree.registrations.delete(registration)
    void registration.stop().catch(() => {})
  })
  return server
}
