/**
 * SRV lookups that keep the records' TTL. `node:dns` resolves SRV records but drops their TTL, and
 * Watch needs it to know when to look again, so the query goes out over UDP here (one question, RFC
 * 1035 wire format). A truncated answer falls back to `node:dns`'s Resolver (which retries over TCP),
 * with the TTL unknown.
 */
import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import { abortErrorFrom, InvalidArgumentError, NotFoundError, UnavailableError } from '@libswarm/core'

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

const TYPE_SRV = 33
const CLASS_IN = 1

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
  const labels = name.replace(/\.$/, '').split('.')
  const parts: Buffer[] = []
  const header = Buffer.alloc(12)
  header.writeUInt16BE(id, 0)
  header.writeUInt16BE(0x0100, 2) // RD
  header.writeUInt16BE(1, 4)
  parts.push(header)
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8')
    if (bytes.length === 0 || bytes.length > 63) {
      throw new InvalidArgumentError(`[adapter-dns] bad name "${name}": each label must be 1 to 63 bytes`)
    }
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  const tail = Buffer.alloc(5)
  tail.writeUInt16BE(TYPE_SRV, 1)
  tail.writeUInt16BE(CLASS_IN, 3)
  parts.push(tail)
  return Buffer.concat(parts)
}

/** The parsed parts of a DNS answer that an SRV lookup uses. */
export interface SrvAnswer {
  id: number
  rcode: number
  truncated: boolean
  records: SrvRecord[]
}

/** Decodes a DNS response; throws on malformed bytes. */
export function decodeResponse(message: Buffer): SrvAnswer {
  if (message.length < 12) throw new Error('DNS response shorter than its header')
  const id = message.readUInt16BE(0)
  const flags = message.readUInt16BE(2)
  const qdcount = message.readUInt16BE(4)
  const ancount = message.readUInt16BE(6)
  let offset = 12
  for (let i = 0; i < qdcount; i++) {
    offset = readName(message, offset).end + 4
  }
  const records: SrvRecord[] = []
  for (let i = 0; i < ancount; i++) {
    const { end } = readName(message, offset)
    if (end + 10 > message.length) throw new Error('DNS response truncated in a record header')
    const type = message.readUInt16BE(end)
    const ttl = message.readUInt32BE(end + 4)
    const length = message.readUInt16BE(end + 8)
    const data = end + 10
    if (data + length > message.length) throw new Error('DNS record longer than the response')
    if (type === TYPE_SRV && length >= 7) {
      records.push({
        priority: message.readUInt16BE(data),
        weight: message.readUInt16BE(data + 2),
        port: message.readUInt16BE(data + 4),
        target: readName(message, data + 6).name,
        ttl,
      })
    }
    offset = data + length
  }
  return { id, rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, records }
}

function readName(message: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = []
  let offset = start
  let end = -1
  for (let jumps = 0; ; ) {
    if (offset >= message.length) throw new Error('DNS name runs past the end of the response')
    const length = message[offset]!
    if ((length & 0xc0) === 0xc0) {
      if (offset + 1 >= message.length) throw new Error('DNS name pointer truncated')
      if (end < 0) end = offset + 2
      offset = ((length & 0x3f) << 8) | message[offset + 1]!
      if (++jumps > 64) throw new Error('DNS name pointers loop')
      continue
    }
    if (length === 0) {
      if (end < 0) end = offset + 1
      break
    }
    labels.push(message.toString('utf8', offset + 1, offset + 1 + length))
    offset += 1 + length
  }
  return { name: labels.join('.'), end }
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
