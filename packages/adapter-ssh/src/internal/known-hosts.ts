import { createHmac } from 'node:crypto'
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** One usable line of a known_hosts file. */
export interface KnownHost {
  /** 1-based line number, for messages. */
  line: number
  hosts: string
  type: string
  /** The key blob, base64. */
  key: string
  revoked: boolean
}

/** How a host's key compares with a known_hosts file. */
export type HostKeyVerdict =
  | { status: 'match'; entry: KnownHost }
  | { status: 'unknown' }
  | { status: 'mismatch'; entries: KnownHost[] }
  | { status: 'revoked'; entry: KnownHost }

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** Reads a known_hosts file (OpenSSH format: plain or hashed names, `@revoked` markers). */
export function readKnownHosts(path: string): KnownHost[] {
  if (!existsSync(path)) return []
  const entries: KnownHost[] = []
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      const trimmed = text.trim()
      if (trimmed === '' || trimmed.startsWith('#')) return
      const fields = trimmed.split(/\s+/)
      let revoked = false
      if (fields[0]?.startsWith('@')) {
        const marker = fields.shift()
        if (marker === '@cert-authority') return // certificates are not supported; such lines are skipped
        revoked = marker === '@revoked'
      }
      const [hosts, type, key] = fields
      if (!hosts || !type || !key) return
      entries.push({ line: index + 1, hosts, type, key, revoked })
    })
  return entries
}

function matchesOne(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|')
    if (!salt || !hash) return false
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash
  }
  if (pattern.includes('*') || pattern.includes('?')) {
    const regex = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    )
    return regex.test(name)
  }
  return pattern === name
}

/** True if the comma-separated host patterns of an entry name `name` (a `!` pattern excludes). */
export function hostMatches(hosts: string, name: string): boolean {
  let matched = false
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (matchesOne(pattern.slice(1), name)) return false
    } else if (matchesOne(pattern, name)) matched = true
  }
  return matched
}

/** The entries of `entries` for `host:port`. */
export function entriesFor(entries: readonly KnownHost[], host: string, port: number): KnownHost[] {
  const name = hostPattern(host, port)
  return entries.filter((e) => hostMatches(e.hosts, name))
}

/** Compares the key a server presented (its SSH wire blob) with what known_hosts says about it. */
export function verifyHostKey(
  entries: readonly KnownHost[],
  host: string,
  port: number,
  blob: Buffer,
): HostKeyVerdict {
  const key = blob.toString('base64')
  const mine = entriesFor(entries, host, port)
  const revoked = mine.find((e) => e.revoked && e.key === key)
  if (revoked) return { status: 'revoked', entry: revoked }
  const match = mine.find((e) => !e.revoked && e.key === key)
  if (match) return { status: 'match', entry: match }
  const others = mine.filter((e) => !e.revoked)
  return others.length > 0 ? { status: 'mismatch', entries: others } : { status: 'unknown' }
}

/** The key type named inside an SSH public key blob (e.g. `ssh-ed25519`). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const length = blob.readUInt32BE(0)
  return blob.toString('ascii', 4, 4 + length)
}

/** Appends `host:port`'s key to a known_hosts file (creating it), like `StrictHostKeyChecking=accept-new`. */
export function addKnownHost(path: string, host: string, port: number, blob: Buffer): void {
  mkdirSync(dirname(path), { recursive: true })
  appendFileSync(path, `${hostPattern(host, port)} ${keyType(blob)} ${blob.toString('base64')}\n`, {
    mode: 0o600,
  })
}

/** The host key algorithms ssh2 should ask for so that the server presents a key known_hosts has. */
export function algorithmsFor(entries: readonly KnownHost[]): string[] | undefined {
  const types = new Set(entries.filter((e) => !e.revoked).map((e) => e.type))
  if (types.size === 0) return undefined
  const algorithms: string[] = []
  for (const type of types) {
    if (type === 'ssh-rsa') algorithms.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa')
    else algorithms.push(type)
  }
  return algorithms
}
