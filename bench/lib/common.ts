/**
 * What every suite shares: the quick flag, rows, statistics, memory sampling, socket and frame
 * helpers for the raw baselines, and libswarm session pairs over each transport.
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, listen, msgpackCodec, type Session, type Transport } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { tls } from '@libswarm/transport-tls'
import { unix } from '@libswarm/transport-unix'
import { websocket } from '@libswarm/transport-websocket'

/** `--quick`: tiny sizes and one round; checks that every benchmark runs, not how fast. */
export const quick = process.argv.includes('--quick')

/** Rounds each comparison runs (the two sides alternate within each round). */
export const ROUNDS = quick ? 1 : 5

/** One line of the results table. */
export interface Row {
  /** The section: `messages`, `rpc`, `streams`, `scale`, `nesting`, `swarmd`, `docker`. */
  section: string
  /** What was measured, e.g. `tcp libswarm`. */
  name: string
  /** The figure (median over rounds); null when not available. */
  value: number | null
  /** Its unit: `msg/s`, `µs`, `MiB/s`, `bytes`, `ms`. */
  unit: string
  /** The baseline this row is compared with, measured in the same run. */
  baseline?: string
  /** The baseline's figure. */
  baselineValue?: number
  /** libswarm relative to the baseline: value / baselineValue (median of the per-round ratios). */
  ratio?: number
  /** The target on the ratio (or on the value), e.g. `>= 0.75x`. */
  target?: string
  /** Whether the target is met; undefined when there is no target. */
  met?: boolean
  /** A note: why it is not available, what the figure includes. */
  note?: string
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** A target check: `>= x` or `<= x` on a ratio. */
export function check(ratio: number, target: string): boolean {
  const [op, raw] = target.split(' ') as [string, string]
  const bound = Number.parseFloat(raw)
  return op === '>=' ? ratio >= bound : ratio <= bound
}

/**
 * Runs `a` and `b` alternately for ROUNDS rounds (which goes first alternates too) and returns the
 * medians of each and the median of the per-round ratios a/b.
 */
export async function paired(
  a: () => Promise<number>,
  b: () => Promise<number>,
  rounds = ROUNDS,
): Promise<{ a: number; b: number; ratio: number; as: number[]; bs: number[] }> {
  const as: number[] = []
  const bs: number[] = []
  const ratios: number[] = []
  for (let i = 0; i < rounds; i++) {
    let x: number
    let y: number
    if (i % 2 === 0) {
      x = await a()
      y = await b()
    } else {
      y = await b()
      x = await a()
    }
    as.push(x)
    bs.push(y)
    ratios.push(x / y)
  }
  return { a: median(as), b: median(bs), ratio: median(ratios), as, bs }
}

/** Runs `fn` ROUNDS times and returns the median. */
export async function rounds(fn: () => Promise<number>, n = ROUNDS): Promise<number> {
  const values: number[] = []
  for (let i = 0; i < n; i++) values.push(await fn())
  return median(values)
}

/** Collects garbage when the process runs with --expose-gc (the runner starts suites that way). */
export async function gc(): Promise<void> {
  const collect = (globalThis as { gc?: () => void }).gc
  if (!collect) return
  for (let i = 0; i < 3; i++) {
    collect()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** Memory the program holds outside the code itself: heap, plus buffers outside the heap. */
export function heldBytes(): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** Samples {@link heldBytes} and RSS every few ms while `fn` runs; returns peaks above the start. */
export async function peakMemory<T>(fn: () => Promise<T>): Promise<{ result: T; held: number; rss: number }> {
  await gc()
  const start = heldBytes()
  const startRss = process.memoryUsage().rss
  let held = 0
  let rss = 0
  const sample = () => {
    held = Math.max(held, heldBytes() - start)
    rss = Math.max(rss, process.memoryUsage().rss - startRss)
  }
  const timer = setInterval(sample, 5)
  try {
    const result = await fn()
    sample()
    return { result, held, rss }
  } finally {
    clearInterval(timer)
  }
}

// --- raw baselines -------------------------------------------------------------------------------

export type SocketKind = 'tcp' | 'unix'

/** A temp folder for unix sockets and certificates, removed at exit. */
export const scratch = mkdtempSync(join(tmpdir(), 'swarm-bench-'))
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))
let sockets = 0
export function socketPath(): string {
  return join(scratch, `s${++sockets}.sock`)
}

/** A connected pair of plain sockets (client, accepted peer) and a closer. */
export async function socketPair(kind: SocketKind): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer()
  const path = kind === 'unix' ? socketPath() : undefined
  if (path) server.listen(path)
  else server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const client = path
    ? net.connect(path)
    : net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await once(client, 'connect')
  const [peer] = await accepted
  // A write racing the teardown may fail with EPIPE; the measurement is over by then.
  client.on('error', () => {})
  peer.on('error', () => {})
  if (kind === 'tcp') {
    client.setNoDelay(true)
    peer.setNoDelay(true)
  }
  return [
    client,
    peer,
    () => {
      client.destroy()
      peer.destroy()
      server.close()
    },
  ]
}

/** msgpack through core's codec without a session: the raw baselines use the same library. */
export function rawCodec() {
  return msgpackCodec().create()
}

/** A length-prefixed frame around `body`. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  out.set(body, 4)
  return out
}

/** Length-prefixed frames: calls onMessage for each complete one. */
export function frameReader(onMessage: (bytes: Uint8Array) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk
    let offset = 0
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset)
      if (buf.length - offset - 4 < length) break
      onMessage(buf.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
    pending = offset < buf.length ? buf.subarray(offset) : undefined
  }
}

/**
 * A batching writer: frames go into one buffer flushed per setImmediate (few syscalls). Returns a
 * promise only while the socket is over its high-water mark.
 */
export function batchWriter(socket: net.Socket): (value: unknown) => Promise<void> | undefined {
  const codec = rawCodec()
  let chunks: Buffer[] = []
  let scheduled = false
  let blocked: Promise<void> | undefined
  const flush = () => {
    scheduled = false
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    chunks = []
    if (!socket.write(data)) blocked = once(socket, 'drain').then(() => void (blocked = undefined))
  }
  return (value) => {
    chunks.push(frame(codec.encode(value)))
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
    return blocked
  }
}

// --- libswarm sessions -----------------------------------------------------------------------------

/** `unix-socket`: unix without fd passing (a plain net.Socket link instead of the fd-passing addon's). */
export type TransportKind = 'unix' | 'unix-socket' | 'tcp' | 'tls' | 'ws'

let certs: { cert: Buffer; key: Buffer } | undefined
/** A self-signed certificate for localhost / 127.0.0.1, made with the openssl CLI. */
export function testCert(): { cert: Buffer; key: Buffer } {
  if (certs) return certs
  const key = join(scratch, 'key.pem')
  const cert = join(scratch, 'cert.pem')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key]
      .concat(['-out', cert, '-days', '2', '-subj', '/CN=localhost'])
      .concat(['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    { stdio: 'ignore' },
  )
  certs = { cert: readFileSync(cert), key: readFileSync(key) }
  return certs
}

function transportFor(kind: TransportKind): { url: string; transport: Transport; dial?: Transport } {
  switch (kind) {
    case 'unix':
      return { url: `unix://${socketPath()}`, transport: unix() }
    case 'unix-socket':
      return { url: `unix://${socketPath()}`, transport: unix({ passFds: false }) }
    case 'tcp':
      return { url: 'tcp://127.0.0.1:0', transport: tcp() }
    case 'ws':
      return { url: 'ws://127.0.0.1:0/swarm', transport: websocket() }
    case 'tls': {
      const { cert, key } = testCert()
      return {
        url: 'tls://127.0.0.1:0',
        transport: tls({ cert, key }),
        dial: tls({ ca: cert, servername: 'localhost' }),
      }
    }
  }
}

/** A libswarm listener on `kind` and a function that dials it. */
export async function sessionListener(kind: TransportKind) {
  const { url, transport, dial } = transportFor(kind)
  const listener = await listen(url, { transports: [transport] })
  return {
    listener,
    dial: () => connect(listener.url, { transports: [dial ?? transport] }),
  }
}

/** Two connected libswarm sessions over a real transport (client, server) and a closer. */
export async function sessionPair(kind: TransportKind): Promise<[Session, Session, () => Promise<void>]> {
  const { listener, dial } = await sessionListener(kind)
  const [client, server] = await Promise.all([dial(), listener.accept()])
  return [
    client,
    server,
    async () => {
      client.abort('bench over')
      server.abort('bench over')
      await listener.close()
    },
  ]
}

/** The 3-field message of the small-message benchmarks. */
export type Small = { id: number; name: string; ok: boolean }

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString('en-US'),
  dec: (n: number, digits = 1) => n.toFixed(digits),
}
