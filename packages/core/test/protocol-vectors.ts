/** Produces the bytes of the docs/protocol/ test vectors from the implementation. */
import { Readable } from 'node:stream'
import { createSession, type Link, linkPair, pipe, type Session } from '../src/index.ts'

/** Wraps a link so every write is recorded. */
function tap(link: Link, record: Uint8Array[]): Link {
  return {
    peer: link.peer,
    start: (h) => link.start(h),
    write: (chunk) => {
      record.push(chunk.slice())
      return link.write(chunk)
    },
    writev: (chunks) => {
      for (const chunk of chunks) record.push(chunk.slice())
      return link.write(concat(chunks))
    },
    end: () => link.end(),
    destroy: (error) => link.destroy(error),
  }
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.byteLength
  }
  return out
}

export interface Recorded {
  client: Session
  server: Session
  clientBytes: Uint8Array[]
  serverBytes: Uint8Array[]
}

export async function recordedPair(): Promise<Recorded> {
  const [a, b] = linkPair()
  const clientBytes: Uint8Array[] = []
  const serverBytes: Uint8Array[] = []
  const [client, server] = await Promise.all([
    createSession(tap(a, clientBytes), { role: 'client', limits: { idleTimeout: 0 } }),
    createSession(tap(b, serverBytes), { role: 'server', limits: { idleTimeout: 0 } }),
  ])
  return { client, server, clientBytes, serverBytes }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

/** Vector 1: the handshake, both ways. */
export async function handshakeVector(): Promise<{ client: Uint8Array; server: Uint8Array }> {
  const r = await recordedPair()
  await settle()
  const vector = { client: concat(r.clientBytes), server: concat(r.serverBytes) }
  r.client.abort('vector done')
  return vector
}

/**
 * Vector 2: after the handshake, the client opens a channel and sends
 * `{ op: 'read', reply: <a Sender>, body: <a Readable of "hello"> }`, and the body's bytes follow.
 */
export async function nestedVector(): Promise<{ client: Uint8Array }> {
  const r = await recordedPair()
  await settle()
  const handshakeChunks = r.clientBytes.length
  const tx = r.client.open<unknown>()
  const [, reply] = pipe<string>()
  await tx.send({ op: 'read', reply, body: Readable.from([Buffer.from('hello')]) })
  await settle()
  const vector = { client: concat(r.clientBytes.slice(handshakeChunks)) }
  r.client.abort('vector done')
  return vector
}

/** Parses a vector file: `#` comments, `> name` section headers, hex bytes. */
export function parseVector(text: string): Record<string, Uint8Array> {
  const sections: Record<string, number[]> = {}
  let current: number[] | undefined
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) continue
    if (line.startsWith('>')) {
      current = sections[line.slice(1).trim()] = []
      continue
    }
    if (!current) throw new Error(`hex before any "> section" line: ${line}`)
    for (const byte of line.split(/\s+/)) {
      if (!/^[0-9a-f]{2}$/i.test(byte)) throw new Error(`not a hex byte: "${byte}"`)
      current.push(Number.parseInt(byte, 16))
    }
  }
  return Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, new Uint8Array(v)]))
}

export function toHexLines(bytes: Uint8Array, perLine = 16): string {
  const lines: string[] = []
  for (let i = 0; i < bytes.byteLength; i += perLine) {
    lines.push(Array.from(bytes.subarray(i, i + perLine), (b) => b.toString(16).padStart(2, '0')).join(' '))
  }
  return lines.join('\n')
}
