/**
 * Sessions against raw sockets, side by side in one run.
 *
 *   npx tsx bench/session.bench.ts           # full run
 *   npx tsx bench/session.bench.ts --quick   # a few seconds
 *
 * throughput: small messages ({ id, name, ok }) one way, the sender awaiting each send;
 *   raw = length-prefixed msgpack on a net socket, writes batched per setImmediate.
 * round trip: one request, one answer, in sequence;
 *   raw = the same framing, ping-pong; session = a message carrying a return Sender (new channel per
 *   request, the libchan pattern) and, for reference, a ping-pong over two long-lived channels.
 */
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createSession,
  duplexLink,
  msgpackCodec,
  pipe,
  type Sender,
  type Session,
} from '../packages/core/src/index.ts'

// The raw baseline uses the same msgpack library (through core's codec, without a session).
const rawCodec = msgpackCodec().create()
const decode = (bytes: Uint8Array) => rawCodec.decode(bytes)
class Encoder {
  private readonly instance = msgpackCodec().create()
  encode(value: unknown): Uint8Array {
    return this.instance.encode(value)
  }
}

const quick = process.argv.includes('--quick')
const MESSAGES = quick ? 100_000 : 1_000_000
const ROUND_TRIPS = quick ? 5_000 : 30_000
const RUNS = quick ? 1 : 3

type Address = { kind: 'tcp'; port: number } | { kind: 'unix'; path: string }

async function socketPair(kind: 'tcp' | 'unix'): Promise<[net.Socket, net.Socket, () => void]> {
  const server = net.createServer()
  let address: Address
  let dir: string | undefined
  if (kind === 'tcp') {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    address = { kind, port: (server.address() as net.AddressInfo).port }
  } else {
    dir = mkdtempSync(join(tmpdir(), 'swarm-bench-'))
    const path = join(dir, 's.sock')
    server.listen(path)
    await once(server, 'listening')
    address = { kind, path }
  }
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const client = address.kind === 'tcp' ? net.connect(address.port, '127.0.0.1') : net.connect(address.path)
  await once(client, 'connect')
  const [peer] = await accepted
  client.setNoDelay(true)
  peer.setNoDelay(true)
  return [
    client,
    peer,
    () => {
      client.destroy()
      peer.destroy()
      server.close()
      if (dir) rmSync(dir, { recursive: true, force: true })
    },
  ]
}

/** Length-prefixed frames: calls onMessage for each complete one. */
function frameReader(onMessage: (bytes: Uint8Array) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined
  return (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk
    let offset = 0
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset)
      if (buf.length - offset - 4 < length) break
      onMessage(buf.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
    pending = offset < buf.length ? buf.subarray(offset) : undefined
    buf = undefined as never
  }
}

/** A batching writer: frames go into one buffer, flushed per setImmediate. Resolves sends under backpressure. */
function batchWriter(socket: net.Socket) {
  const encoder = new Encoder()
  let chunks: Buffer[] = []
  let scheduled = false
  let blocked: Promise<void> | undefined
  const flush = () => {
    scheduled = false
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    chunks = []
    if (!socket.write(data)) blocked = once(socket, 'drain').then(() => void (blocked = undefined))
  }
  return (value: unknown): Promise<void> | undefined => {
    const body = encoder.encode(value)
    const frame = Buffer.allocUnsafe(4 + body.length)
    frame.writeUInt32BE(body.length, 0)
    frame.set(body, 4)
    chunks.push(frame)
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
    return blocked
  }
}

async function rawThroughput(kind: 'tcp' | 'unix'): Promise<number> {
  const [client, server, close] = await socketPair(kind)
  let received = 0
  const done = new Promise<void>((resolve) => {
    server.on(
      'data',
      frameReader((bytes) => {
        decode(bytes)
        if (++received === MESSAGES) resolve()
      }),
    )
  })
  const send = batchWriter(client)
  const start = performance.now()
  for (let id = 0; id < MESSAGES; id++) {
    const wait = send({ id, name: 'message', ok: true })
    if (wait) await wait
    else await undefined
  }
  await done
  const seconds = (performance.now() - start) / 1000
  close()
  return MESSAGES / seconds
}

async function sessionPair(kind: 'tcp' | 'unix'): Promise<[Session, Session, () => void]> {
  const [a, b, close] = await socketPair(kind)
  const [client, server] = await Promise.all([
    createSession(duplexLink(a, { transport: kind }), { role: 'client' }),
    createSession(duplexLink(b, { transport: kind }), { role: 'server' }),
  ])
  return [
    client,
    server,
    () => {
      client.abort('bench over')
      server.abort('bench over')
      close()
    },
  ]
}

async function sessionThroughput(kind: 'tcp' | 'unix'): Promise<number> {
  const [client, server, close] = await sessionPair(kind)
  const tx = client.open<{ id: number; name: string; ok: boolean }>()
  const rx = await server.accept()
  let received = 0
  const done = (async () => {
    for (;;) {
      await rx.receive()
      if (++received === MESSAGES) return
    }
  })()
  const start = performance.now()
  for (let id = 0; id < MESSAGES; id++) await tx.send({ id, name: 'message', ok: true })
  await done
  const seconds = (performance.now() - start) / 1000
  close()
  return MESSAGES / seconds
}

async function rawRoundTrip(kind: 'tcp' | 'unix'): Promise<number> {
  const [client, server, close] = await socketPair(kind)
  const encoder = new Encoder()
  const frame = (value: unknown) => {
    const body = encoder.encode(value)
    const out = Buffer.allocUnsafe(4 + body.length)
    out.writeUInt32BE(body.length, 0)
    out.set(body, 4)
    return out
  }
  server.on(
    'data',
    frameReader((bytes) => {
      const { id } = decode(bytes) as { id: number }
      server.write(frame({ id, answer: id * 2 }))
    }),
  )
  let wake: (() => void) | undefined
  client.on(
    'data',
    frameReader((bytes) => {
      decode(bytes)
      wake?.()
    }),
  )
  const start = performance.now()
  for (let id = 0; id < ROUND_TRIPS; id++) {
    const answered = new Promise<void>((resolve) => (wake = resolve))
    client.write(frame({ id, name: 'request', ok: true }))
    await answered
  }
  const micros = ((performance.now() - start) * 1000) / ROUND_TRIPS
  close()
  return micros
}

async function sessionRoundTrip(kind: 'tcp' | 'unix', style: 'return-sender' | 'ping-pong'): Promise<number> {
  const [client, server, close] = await sessionPair(kind)
  let start: number
  if (style === 'return-sender') {
    type Req = { id: number; name: string; ok: boolean; reply: Sender<{ id: number; answer: number }> }
    const tx = client.open<Req>()
    const rx = await server.accept<Req>()
    void (async () => {
      for await (const { id, reply } of rx) {
        await reply.send({ id, answer: id * 2 })
        await reply.close()
      }
    })().catch(() => {})
    start = performance.now()
    for (let id = 0; id < ROUND_TRIPS; id++) {
      const [answers, reply] = pipe<{ id: number; answer: number }>()
      await tx.send({ id, name: 'request', ok: true, reply })
      await answers.receive()
    }
  } else {
    const requests = client.open<{ id: number; name: string; ok: boolean }>()
    const rx = await server.accept<{ id: number }>()
    const answers = server.open<{ id: number; answer: number }>()
    const back = await client.accept()
    void (async () => {
      for await (const { id } of rx) await answers.send({ id, answer: id * 2 })
    })().catch(() => {})
    start = performance.now()
    for (let id = 0; id < ROUND_TRIPS; id++) {
      await requests.send({ id, name: 'request', ok: true })
      await back.receive()
    }
  }
  const micros = ((performance.now() - start) * 1000) / ROUND_TRIPS
  close()
  return micros
}

interface Measure {
  /** The figure (msg/s or µs per round trip). */
  value: number
  /** CPU time (user + system, both ends: they share this process) per operation, in µs. */
  cpu: number
}

async function measure(run: () => Promise<number>, ops: number): Promise<Measure> {
  const before = process.cpuUsage()
  const value = await run()
  const used = process.cpuUsage(before)
  return { value, cpu: (used.user + used.system) / ops }
}

/** Runs raw and session alternately RUNS times; keeps the best of each (best wall, best CPU). */
async function sideBySide(
  raw: () => Promise<number>,
  session: () => Promise<number>,
  ops: number,
  higherIsBetter: boolean,
): Promise<[Measure, Measure]> {
  const pickBest = (a: Measure | undefined, b: Measure): Measure =>
    !a
      ? b
      : {
          value: higherIsBetter ? Math.max(a.value, b.value) : Math.min(a.value, b.value),
          cpu: Math.min(a.cpu, b.cpu),
        }
  let r: Measure | undefined
  let s: Measure | undefined
  for (let i = 0; i < RUNS; i++) {
    r = pickBest(r, await measure(raw, ops))
    s = pickBest(s, await measure(session, ops))
  }
  return [r!, s!]
}

const rows: string[][] = []
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
for (const kind of ['tcp', 'unix'] as const) {
  const [raw, session] = await sideBySide(
    () => rawThroughput(kind),
    () => sessionThroughput(kind),
    MESSAGES,
    true,
  )
  rows.push([
    `${kind} throughput (msg/s)`,
    fmt(raw.value),
    fmt(session.value),
    (session.value / raw.value).toFixed(2),
    (raw.cpu / session.cpu).toFixed(2),
    '>= 0.75',
  ])
  for (const style of ['return-sender', 'ping-pong'] as const) {
    const [rawRtt, rtt] = await sideBySide(
      () => rawRoundTrip(kind),
      () => sessionRoundTrip(kind, style),
      ROUND_TRIPS,
      false,
    )
    rows.push([
      `${kind} round trip, ${style === 'return-sender' ? 'return Sender' : 'ping-pong'} (µs)`,
      rawRtt.value.toFixed(1),
      rtt.value.toFixed(1),
      (rtt.value / rawRtt.value).toFixed(2),
      (rtt.cpu / rawRtt.cpu).toFixed(2),
      '<= 1.5',
    ])
  }
}
const header = ['case', 'raw socket', 'session', 'ratio (wall)', 'ratio (cpu)', 'target']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')
console.log(
  `node ${process.version}, ${MESSAGES} messages, ${ROUND_TRIPS} round trips, best of ${RUNS} (raw and session interleaved)`,
)
console.log(
  'ratio (cpu): CPU time per operation of both ends, raw relative to session (throughput) or session relative to raw (round trip); robust against a busy machine',
)
console.log(line(header))
for (const row of rows) console.log(line(row))
