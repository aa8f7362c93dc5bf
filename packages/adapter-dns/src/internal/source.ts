import { setTimeout as sleep } from 'node:timers/promises'
import { dnsServers } from './servers.ts'
import {
  type DnsServer,
  type LookupOptions,
  lookupSrv,
  recordName,
  type SrvRecord,
  sortRecords,
} from './srv.ts'

/** Options of an SRV source. */
export interface SrvSourceOptions {
  /** Servers to ask, in order. Default: the system's (`dns.getServers()`). */
  servers?: readonly DnsServer[]
  /** Shortest wait between two lookups while watching, in seconds (the TTL floor). Default: 5. */
  minTtl?: number
  /** Longest wait between two lookups while watching, in seconds (the TTL ceiling). Default: 300. */
  maxTtl?: number
  /** Milliseconds to wait for one answer. Default: 2000. */
  timeout?: number
  /** Called with a line when a lookup fails while watching (the watch keeps going). */
  log?: (line: string) => void
}

/** One lookup's result. */
export interface SrvSnapshot {
  name: string
  records: SrvRecord[]
  /** The smallest TTL among the records, in seconds; undefined if the answer was empty or had none. */
  ttl: number | undefined
  /** When the answer arrived (ISO 8601). */
  time: string
}

/** A change between two lookups, as Watch delivers it. */
export interface SrvChange {
  type: 'create' | 'delete' | 'change'
  name: string
  time: string
  record: Omit<SrvRecord, 'ttl'>
  previous?: Omit<SrvRecord, 'ttl'>
}

/** Resolves one SRV name, and watches it by resolving again when the TTL runs out. */
export class SrvSource {
  readonly servers: readonly DnsServer[]
  readonly minTtl: number
  readonly maxTtl: number
  private readonly lookupOptions: LookupOptions
  private readonly log: (line: string) => void

  constructor(
    readonly name: string,
    options: SrvSourceOptions = {},
  ) {
    this.servers = options.servers ?? dnsServers()
    this.minTtl = options.minTtl ?? 5
    this.maxTtl = Math.max(options.maxTtl ?? 300, this.minTtl)
    this.lookupOptions = { timeout: options.timeout ?? 2000 }
    this.log = options.log ?? (() => {})
  }

  /** Looks the name up once. */
  async resolve(signal?: AbortSignal): Promise<SrvSnapshot> {
    const records = sortRecords(await lookupSrv(this.name, this.servers, { ...this.lookupOptions, signal }))
    const ttls = records.map((r) => r.ttl).filter((t): t is number => t !== undefined)
    return {
      name: this.name,
      records,
      ttl: ttls.length > 0 ? Math.min(...ttls) : undefined,
      time: new Date().toISOString(),
    }
  }

  /** Seconds to wait before the next lookup after `snapshot`: its TTL, kept between the floor and ceiling. */
  interval(snapshot: SrvSnapshot | undefined): number {
    const ttl = snapshot?.ttl ?? this.minTtl
    return Math.min(Math.max(ttl, this.minTtl), this.maxTtl)
  }

  /**
   * Yields the changes between successive lookups until `signal` fires. `baseline` is the answer to
   * compare the first lookup with; without one, the first lookup sets it (`initial` receives it). A
   * failed lookup is logged and retried with backoff (the floor, doubling up to the ceiling) and does
   * not count as the records going away.
   */
  async *watch(
    signal: AbortSignal,
    initial?: (snapshot: SrvSnapshot) => void,
    baseline?: SrvSnapshot,
  ): AsyncGenerator<SrvChange> {
    let previous: SrvSnapshot | undefined = baseline
    let backoff = this.minTtl
    // Each wait ends early when the signal fires (the rejection is that; the loop then stops).
    if (baseline) await sleep(this.interval(baseline) * 1000, undefined, { signal }).catch(() => {})
    while (!signal.aborted) {
      let wait: number
      try {
        const next = await this.resolve(signal)
        if (previous) yield* diff(previous, next)
        else initial?.(next)
        previous = next
        backoff = this.minTtl
        wait = this.interval(next)
      } catch (error) {
        if (signal.aborted) return
        this.log(`lookup of ${this.name} failed, retrying in ${backoff}s: ${(error as Error).message}`)
        wait = backoff
        backoff = Math.min(backoff * 2, this.maxTtl)
      }
      await sleep(wait * 1000, undefined, { signal }).catch(() => {})
    }
  }
}

function strip(record: SrvRecord): Omit<SrvRecord, 'ttl'> {
  const { ttl: _ttl, ...rest } = record
  return rest
}

/** The changes from one lookup to the next, in the order of the new answer, deletions last. */
export function diff(before: SrvSnapshot, after: SrvSnapshot): SrvChange[] {
  const old = new Map(before.records.map((r) => [recordName(r), r]))
  const changes: SrvChange[] = []
  for (const record of after.records) {
    const name = recordName(record)
    const was = old.get(name)
    old.delete(name)
    if (!was) changes.push({ type: 'create', name, time: after.time, record: strip(record) })
    else if (was.priority !== record.priority || was.weight !== record.weight) {
      changes.push({ type: 'change', name, time: after.time, record: strip(record), previous: strip(was) })
    }
  }
  for (const [name, record] of old)
    changes.push({ type: 'delete', name, time: after.time, record: strip(record) })
  return changes
}
