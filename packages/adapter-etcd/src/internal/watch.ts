import type { EventEmitter } from 'node:events'
import { abortErrorFrom, LimitExceededError, UnavailableError, type WatchEvent } from '@libswarm/core'
import type { Etcd3, IKeyValue } from 'etcd3'
import { etcdError } from './client.ts'

/** One change from etcd, as Watch delivers it (JSON in a `Set`). */
export interface EtcdEvent extends WatchEvent {
  type: 'put' | 'delete'
  /** The key relative to the watched node (`.` for the node's own key). */
  name: string
  /** The full etcd key. */
  key: string
  /** The value after a put (absent for a delete). */
  value?: string
  /** The etcd revision of the change: strictly increasing across events of one key. */
  revision: number
  /** The key's version after a put (1 when it was created). */
  version?: number
  /** The lease the key is attached to, if any (a decimal string). */
  lease?: string
}

/** Options of {@link watchPrefix}. */
export interface WatchOptions {
  /** Ends the watch. */
  signal: AbortSignal
  /** Deliver changes from this revision on (inclusive). Default: changes after now. */
  startRevision?: number
  /** Events buffered while the consumer is slow before the watch ends with an error. Default: 10000. */
  maxBuffered?: number
  /** Called with lines about disconnects and resumes. */
  log?: (line: string) => void
  /** Called once the watch is established, with the revision it starts after. */
  onReady?: (revision: number) => void
  /** Where the client connects, for error messages. */
  where?: string
  /** Milliseconds to wait for etcd to accept the watch before failing with UnavailableError. Default: 5000. */
  connectTimeout?: number
}

/**
 * Watches the key `node` and every key under `node/` (the whole keyspace under `node` = ''). Resolves
 * once etcd has accepted the watch (so every later change is delivered) with the changes in revision
 * order; rejects with the mapped error if etcd cannot be reached.
 *
 * The watch survives losing etcd: when the connection comes back, it asks etcd again for every
 * change after the last revision it delivered, and drops anything it already delivered, so nothing
 * is lost or repeated. If etcd compacted those revisions meanwhile, the watch ends with an
 * UnavailableError saying so (the caller re-reads the keys and watches again).
 */
export async function watchPrefix(
  client: Etcd3,
  node: string,
  options: WatchOptions,
): Promise<AsyncIterable<EtcdEvent>> {
  const { signal, maxBuffered = 10_000, log = () => {}, where = 'etcd' } = options
  if (signal.aborted) throw abortErrorFrom(signal)
  const queue: EtcdEvent[] = []
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = () => {
    wake?.()
    wake = undefined
  }
  // The last revision delivered, and the keys already delivered at that revision (one transaction
  // can change several keys at the same revision).
  let lastRevision = options.startRevision === undefined ? undefined : options.startRevision - 1
  let keysAtLast = new Set<string>()
  let disconnected = false
  let lastDisconnect: string | undefined
  let ready!: () => void
  const established = new Promise<void>((resolve) => (ready = resolve))

  const builder = client.watch()
  const watcher = (node === '' ? builder.prefix('') : builder.prefix(node)).watcher()
  // 'connecting' fires right before each (re)create request goes out; the typings omit it.
  ;(watcher as unknown as EventEmitter).on('connecting', (request: { start_revision?: string | number }) => {
    if (lastRevision !== undefined) request.start_revision = String(lastRevision + 1)
  })
  watcher.on('connected', (response: { header: { revision: string } }) => {
    if (lastRevision === undefined) lastRevision = Number(response.header.revision)
    if (disconnected) log(`watch of "${node}" resumed after revision ${lastRevision}`)
    else options.onReady?.(lastRevision)
    disconnected = false
    ready()
  })
  watcher.on('disconnected', (error: Error) => {
    lastDisconnect = error.message
    if (!disconnected) log(`watch of "${node}" lost etcd (${error.message}); reconnecting`)
    disconnected = true
  })
  watcher.on('error', (error: Error) => {
    // etcd cancels a watch whose start revision was compacted away (etcd3 does not pass the
    // compact revision on, and etcd 3.4 gives no cancel reason for it).
    const cancelled = /Watcher canceled/i.test(error.message)
    failure = cancelled
      ? new UnavailableError(
          `[adapter-etcd] etcd cancelled the watch of "${node}" from revision ${(lastRevision ?? 0) + 1}` +
            `${/canceled: \S/.test(error.message) ? ` (${error.message})` : ''}: usually those revisions were compacted away; read the keys again and watch from the current revision`,
          { cause: error, retryable: false },
        )
      : etcdError(error, `watch of "${node}"`, where)
    notify()
    ready()
  })
  const push = (type: 'put' | 'delete', kv: IKeyValue) => {
    const key = kv.key.toString()
    if (key !== node && node !== '' && !key.startsWith(`${node}/`)) return // a sibling such as node2
    const revision = Number(kv.mod_revision)
    if (lastRevision !== undefined) {
      if (revision < lastRevision) return
      if (revision === lastRevision && keysAtLast.has(key)) return
    }
    if (revision !== lastRevision) keysAtLast = new Set()
    keysAtLast.add(key)
    lastRevision = revision
    if (queue.length >= maxBuffered) {
      failure = new LimitExceededError(
        'maxBuffered',
        `[adapter-etcd] watch of "${node}" ended: the consumer fell ${maxBuffered} events behind`,
      )
      notify()
      return
    }
    const name = key === node ? '.' : key.slice(node === '' ? 0 : node.length + 1)
    const event: EtcdEvent = { type, name, key, revision, time: new Date().toISOString() }
    if (type === 'put') {
      event.value = kv.value.toString()
      event.version = Number(kv.version)
      if (kv.lease && kv.lease !== '0') event.lease = String(kv.lease)
    }
    queue.push(event)
    notify()
  }
  watcher.on('put', (kv: IKeyValue) => push('put', kv))
  watcher.on('delete', (kv: IKeyValue) => push('delete', kv))
  const stop = () => {
    watcher.removeAllListeners('put')
    watcher.removeAllListeners('delete')
    void watcher.cancel().catch(() => {})
  }
  const onAbort = () => {
    notify()
    ready()
  }
  signal.addEventListener('abort', onAbort, { once: true })
  // Resolve only once etcd has the watch: every change after this call returns is delivered.
  const connectTimeout = options.connectTimeout ?? 5000
  const timer = setTimeout(() => {
    failure ??= new UnavailableError(
      `[adapter-etcd] watch of "${node}": cannot reach etcd at ${where} within ${connectTimeout} ms${lastDisconnect ? ` (${lastDisconnect})` : ''}; check that etcd is running and the URL is right`,
    )
    ready()
  }, connectTimeout)
  await established
  clearTimeout(timer)
  if (failure || signal.aborted) {
    signal.removeEventListener('abort', onAbort)
    stop()
    if (failure) throw failure
    throw abortErrorFrom(signal)
  }
  async function* events(): AsyncGenerator<EtcdEvent> {
    try {
      for (;;) {
        const event = queue.shift()
        if (event) {
          yield event
          continue
        }
        if (failure) throw failure
        if (signal.aborted) return
        await new Promise<void>((resolve) => (wake = resolve))
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      stop()
    }
  }
  // If nobody ever iterates, the signal still cancels the watch.
  signal.addEventListener('abort', stop, { once: true })
  return events()
}
