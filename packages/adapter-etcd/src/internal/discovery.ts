import type { Etcd3 } from 'etcd3'
import { etcdError } from './client.ts'
import { type EtcdEvent, watchPrefix } from './watch.ts'

/** What {@link discover} yields: every endpoint registered under the prefix, after each change. */
export interface Endpoints {
  /** Name (the key under the prefix) to value (typically a URL such as `tcp://10.0.0.5:4000`). */
  endpoints: Map<string, string>
  /** The change that led to this set; absent for the first set. */
  change?: EtcdEvent
  /** The etcd revision this set is current at. */
  revision: number
}

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** Stops following changes; the iteration ends. */
  signal: AbortSignal
  /** Called with lines about disconnects and resumes. */
  log?: (line: string) => void
}

/**
 * Finds the endpoints registered under `prefix` (keys `prefix/NAME`, as written by `register()` or by
 * `Spawn` on an etcd tree) and follows changes: yields the full set at once, then again after every
 * change, without missing one between the read and the watch (the watch starts at the revision after
 * the read). Ends when `signal` fires.
 */
export async function* discover(
  client: Etcd3,
  prefix: string,
  options: DiscoverOptions,
): AsyncGenerator<Endpoints> {
  const node = prefix.replace(/\/+$/, '')
  let revision: number
  const endpoints = new Map<string, string>()
  try {
    const response = await client.getAll().prefix(`${node}/`).exec()
    revision = Number(response.header.revision)
    for (const kv of response.kvs)
      endpoints.set(kv.key.toString().slice(node.length + 1), kv.value.toString())
  } catch (error) {
    throw etcdError(error, `discover "${node}"`, 'etcd')
  }
  yield { endpoints: new Map(endpoints), revision }
  const changes = await watchPrefix(client, node, {
    signal: options.signal,
    startRevision: revision + 1,
    log: options.log,
  })
  for await (const change of changes) {
    if (change.name === '.') continue
    if (change.type === 'put') endpoints.set(change.name, change.value ?? '')
    else endpoints.delete(change.name)
    yield { endpoints: new Map(endpoints), change, revision: change.revision }
  }
}
