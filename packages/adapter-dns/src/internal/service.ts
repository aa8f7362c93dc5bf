import {
  type CallContext,
  isOwnRunState,
  NotFoundError,
  notImplementedMessage,
  replyAndClose,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import type { SrvSource } from './source.ts'
import { recordName } from './srv.ts'

/** Options of {@link srvService}. */
export interface SrvServiceOptions {
  /** Where verbs this service does not answer go (a pipeline stage's `out`). Default: "not implemented". */
  fallback?: Service
}

/**
 * The service over one SRV name: Ls lists `target:port` in the order to try them, Get describes the
 * current answer, Attach TARGET:PORT gives that one record, Watch reports changes. Read-only.
 */
export function srvService(source: SrvSource, options: SrvServiceOptions = {}): Server {
  const server: Server = new Server({
    async onGet(_args, context) {
      const snapshot = await source.resolve(context.signal)
      return {
        name: snapshot.name,
        servers: source.servers.map((s) => `${s.host}:${s.port}`),
        ttl: snapshot.ttl ?? null,
        time: snapshot.time,
        records: snapshot.records.map((r) => ({ ...r, name: recordName(r) })),
      }
    },
    async onAttach(args, context) {
      const name = args[0]
      if (!name) return server // no NAME: the service itself
      const snapshot = await source.resolve(context.signal)
      const index = snapshot.records.findIndex((r) => recordName(r) === name)
      if (name === undefined || index < 0) {
        throw new NotFoundError(
          `[adapter-dns] no SRV target "${name ?? ''}" in ${source.name}; Ls lists the current targets (target:port)`,
        )
      }
      return recordService(source, name)
    },
    // The first lookup happens before the Ack, so every change after the Ack is reported (and an
    // unreachable server is an Error, not a silent watch).
    async onWatch(_args, context: CallContext): Promise<AsyncIterable<WatchEvent>> {
      const baseline = await source.resolve(context.signal)
      return source.watch(context.signal, undefined, baseline) as AsyncIterable<WatchEvent>
    },
    // Ls answers in the order a client should try the targets (lowest priority first, then heaviest
    // weight), not alphabetically, so it is answered here rather than by the Server's sorted onLs.
    async catchAll(message, context) {
      if (message.verb !== 'Ls') {
        // A bare Start/Stop is this stage's own (docs/VERBS.md, "Start and Stop in a pipeline").
        if (options.fallback && !isOwnRunState(message)) await options.fallback.send(message)
        else await replyAndClose(message.ret, notImplementedMessage(message.verb))
        return
      }
      const snapshot = await source.resolve(context.signal)
      await replyAndClose(message.ret, { verb: 'Set', args: snapshot.records.map(recordName) })
    },
  })
  return server
}

function recordService(source: SrvSource, name: string): Server {
  return new Server({
    async onGet(_args, context) {
      const snapshot = await source.resolve(context.signal)
      const index = snapshot.records.findIndex((r) => recordName(r) === name)
      const record = snapshot.records[index]
      if (!record)
        throw new NotFoundError(`[adapter-dns] SRV target "${name}" is no longer in ${source.name}`)
      return { ...record, name, rank: index, lookup: source.name }
    },
    onLs: () => [],
  })
}
