/**
 * SRV lookups that keep the records' TTL. `node:dns` resolves SRV records but drops their TTL, and
 * Watch needs it to know when to look again, so the query goes out over UDP here, encoded and decoded
 * by dns-packet. A truncated answer falls back to `node:dns`'s Resolver (which retries over TCP),
 * with the TTL unknown.
 */
import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import { abortErrorFrom, InvalidArgumentError, NotFoundError, UnavailableError } from '@libswarm/core'
import * as packet from 'dns-packet'

/** One SRV record. */
export interface SrvRecord {
  target: string
  port: number
  priority: number
  weight: number
  /** Seconds the answer may be cached; undefined when the server's answer did not say. */
  ttl?: number
}

/** A DNS server address. */
export interface DnsServer {
  host: string
  port: number
}

/** Parses `host`, `host:port`, `[v6]:port` or `dns://host:port` into a server address (port 53 by default). */
export function parseServer(spec: string): DnsServer {
  let rest = spec.startsWith('dns://') ? spec.slice('dns://'.length) : spec
  rest = rest.replace(/\/$/, '')
  let host = rest
  let port = 53
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  if (bracket) {
    host = bracket[1]!
    if (bracket[2] !== undefined) port = Number(bracket[2])
  } else if (isIP(rest) !== 6) {
    const colon = rest.lastIndexOf(':')
    if (colon >= 0) {
      host = rest.slice(0, colon)
      port = Number(rest.slice(colon + 1))
    }
  }
  if (isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(
      `[adapter-dns] bad DNS server "${spec}": expected an IP address with an optional port, e.g. 127.0.0.1:5353 or [::1]:53`,
    )
  }
  return { host, port }
}

/** Encodes a standard recursive query for one SRV name. */
export function encodeQuery(id: number, name: string): Buffer {
  // dns-packet writes any label as it is; one over 63 bytes would corrupt the query.
  for (const label of name.replace(/\.$/, '').split('.')) {
    const length = Buffer.byteLength(label, 'utf8')
    if (length === 0 || length > 63) {
      throw new InvalidArgumentError(`[adapter-dns] bad name "${name}": each label must be 1 to 63 bytes`)
    }
  }
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type: 'SRV', name }],
  })
}

/** The parsed parts of a DNS answer that an SRV lookup uses. */
export interface SrvAnswer {
  id: number
  rcode: number
  truncated: boolean
  records: SrvRecord[]
}

/** Decodes a DNS response (dns-packet does the wire format); throws on malformed bytes. */
export function decodeResponse(message: Buffer): SrvAnswer {
  if (message.length < 12) throw new Error('DNS response shorter than its header')
  let decoded: packet.DecodedPacket
  try {
    decoded = packet.decode(message)
  } catch (error) {
    throw new Error(`malformed DNS response: ${(error as Error).message}`, { cause: error })
  }
  const records: SrvRecord[] = []
  for (const answer of decoded.answers ?? []) {
    if (answer.type !== 'SRV') continue
    const { target, port, priority = 0, weight = 0 } = answer.data
    records.push({ priority, weight, port, target, ttl: answer.ttl })
  }
  return { id: decoded.id ?? 0, rcode: (decoded.flags ?? 0) & 0x0f, truncated: decoded.flag_tc, records }
}

/** Options of {@link lookupSrv}. */
export interface LookupOptions {
  /** Cancels the lookup. */
  signal?: AbortSignal
  /** Milliseconds to wait for each attempt. Default: 2000. */
  timeout?: number
  /** Attempts per server before giving up. Default: 2. */
  attempts?: number
}

/**
 * Looks up the SRV records of `name` at `servers` (tried in order). NXDOMAIN and an empty answer give
 * an empty list. Throws UnavailableError when no server answers, InvalidArgumentError for a bad name.
 */
export async function lookupSrv(
  name: string,
  servers: readonly DnsServer[],
  options: LookupOptions = {},
): Promise<SrvRecord[]> {
  const { timeout = 2000, attempts = 2, signal } = options
  let lastError: unknown
  for (const server of servers) {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (signal?.aborted) throw abortErrorFrom(signal)
      try {
        const answer = await queryOnce(name, server, timeout, signal)
        if (answer.truncated) return await lookupWithResolver(name, server)
        if (answer.rcode === 0 || answer.rcode === 3) return answer.records
        lastError = new UnavailableError(
          `[adapter-dns] ${server.host}:${server.port} answered ${RCODES[answer.rcode] ?? `rcode ${answer.rcode}`} for ${name}`,
        )
        break
      } catch (error) {
        if (signal?.aborted) throw abortErrorFrom(signal)
        if (error instanceof InvalidArgumentError) throw error
        lastError = error
      }
    }
  }
  const where = servers.map((s) => `${s.host}:${s.port}`).join(', ')
  throw new UnavailableError(
    `[adapter-dns] no DNS server answered for ${name} (tried ${where || 'none'}): ${describe(lastError)}; check the server address and that it is running`,
    { cause: lastError },
  )
}

const RCODES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' }

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function queryOnce(
  name: string,
  server: DnsServer,
  timeout: number,
  signal?: AbortSignal,
): Promise<SrvAnswer> {
  const id = Math.floor(Math.random() * 0x10000)
  const query = encodeQuery(id, name)
  return new Promise<SrvAnswer>((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4')
    const finish = (error: unknown, answer?: SrvAnswer) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.close()
      if (answer) resolve(answer)
      else reject(error)
    }
    const onAbort = () => finish(abortErrorFrom(signal!))
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${server.host}:${server.port} within ${timeout} ms`)),
      timeout,
    )
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.on('error', (error) => finish(error))
    socket.on('message', (message, remote) => {
      if (remote.port !== server.port) return
      let answer: SrvAnswer
      try {
        answer = decodeResponse(message)
      } catch (error) {
        finish(error)
        return
      }
      if (answer.id === id) finish(undefined, answer)
    })
    socket.send(query, server.port, server.host, (error) => {
      if (error) finish(error)
    })
  })
}

async function lookupWithResolver(name: string, server: DnsServer): Promise<SrvRecord[]> {
  const resolver = new Resolver()
  resolver.setServers([
    isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`,
  ])
  try {
    const records = await resolver.resolveSrv(name)
    return records.map((r) => ({ target: r.name, port: r.port, priority: r.priority, weight: r.weight }))
  } catch (error) {
    if (
      (error as { code?: string }).code === 'ENOTFOUND' ||
      (error as { code?: string }).code === 'ENODATA'
    ) {
      return []
    }
    throw error
  }
}

/** Sorts records the way a client should try them: lowest priority first, then highest weight. */
export function sortRecords(records: readonly SrvRecord[]): SrvRecord[] {
  return [...records].sort(
    (a, b) =>
      a.priority - b.priority || b.weight - a.weight || a.target.localeCompare(b.target) || a.port - b.port,
  )
}

/** The child name of a record: `target:port`. */
export function recordName(record: SrvRecord): string {
  return `${record.target}:${record.port}`
}

/** Thrown by Attach for a target that is not in the current answer. */
export function unknownTarget(name: string, lookup: string): NotFoundError {
  return new NotFoundError(`[adapter-dns] no SRV target "${name}" in ${lookup}; Ls lists the current targets`)
}
