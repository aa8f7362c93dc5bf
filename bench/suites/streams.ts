/**
 * (3) Byte streams: a large byte stream inside a message (1 GiB; the quick mode 16 MiB), over unix
 * (copied, and a socket passed as a file descriptor), tcp and tls, against a raw socket pipe of the
 * same kind; peak memory of the process (both ends live in it, so it bounds the sender's). Then a
 * slow consumer: the sender's memory must stay bounded whatever the size sent.
 */
import { once } from 'node:events'
import net from 'node:net'
import { Readable } from 'node:stream'
import tlsNode from 'node:tls'
import {
  check,
  paired,
  peakMemory,
  quick,
  type Row,
  sessionPair,
  socketPair,
  socketPath,
  type TransportKind,
  testCert,
} from '../lib/common.ts'

const MiB = 1024 * 1024
const SIZE = quick ? 16 * MiB : 1024 * MiB
const CHUNK = 64 * 1024
const block = Buffer.alloc(CHUNK, 7)

/** A readable of `size` bytes in 64 KiB chunks of one preallocated block (no allocation per chunk). */
function source(size: number): Readable {
  let left = size
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      while (left > 0) {
        const n = Math.min(CHUNK, left)
        left -= n
        if (!this.push(n === CHUNK ? block : block.subarray(0, n))) return
      }
      this.push(null)
    },
  })
}

/** Reads a stream to its end, optionally slowly; resolves with the byte count. */
async function drain(stream: AsyncIterable<Uint8Array>, slow = false): Promise<number> {
  let total = 0
  let sinceNap = 0
  for await (const chunk of stream) {
    total += chunk.length
    sinceNap += chunk.length
    if (slow && sinceNap >= MiB) {
      sinceNap = 0
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  return total
}

function expect(total: number, size: number): void {
  if (total !== size) throw new Error(`received ${total} bytes, expected ${size}`)
}

/** MiB/s of `size` bytes through a byte stream inside a message over a libswarm session. */
async function session(kind: TransportKind, size = SIZE, slow = false): Promise<number> {
  const [client, server, close] = await sessionPair(kind)
  try {
    const tx = client.open<{ name: string; data: Readable }>()
    const rx = await server.accept<{ name: string; data: AsyncIterable<Uint8Array> }>()
    const start = performance.now()
    const received = rx.receive().then(({ data }) => drain(data, slow))
    await tx.send({ name: 'blob', data: source(size) })
    expect(await received, size)
    return size / MiB / ((performance.now() - start) / 1000)
  } finally {
    await close()
  }
}

/** MiB/s of the same bytes piped into a raw socket of the same kind. */
async function raw(kind: 'unix' | 'tcp' | 'tls'): Promise<number> {
  let client: net.Socket
  let peer: net.Socket
  let close: () => void
  if (kind === 'tls') {
    const { cert, key } = testCert()
    const server = tlsNode.createServer({ cert, key })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const accepted = once(server, 'secureConnection') as Promise<[tlsNode.TLSSocket]>
    const port = (server.address() as net.AddressInfo).port
    const socket = tlsNode.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' })
    await once(socket, 'secureConnect')
    client = socket
    ;[peer] = await accepted
    socket.on('error', () => {})
    peer.on('error', () => {})
    close = () => {
      socket.destroy()
      peer.destroy()
      server.close()
    }
  } else {
    ;[client, peer, close] = await socketPair(kind)
  }
  try {
    const start = performance.now()
    const received = drain(peer)
    source(SIZE).pipe(client)
    expect(await received, SIZE)
    return SIZE / MiB / ((performance.now() - start) / 1000)
  } finally {
    close()
  }
}

/** A producer writing SIZE bytes to whoever connects to it, once told to start. */
async function producer(): Promise<{ path: string; start(): void; close(): void }> {
  const path = socketPath()
  const server = net.createServer()
  server.listen(path)
  await once(server, 'listening')
  let go!: () => void
  const ready = new Promise<void>((resolve) => (go = resolve))
  server.on('connection', (socket) => {
    socket.on('error', () => {})
    void ready.then(() => source(SIZE).pipe(socket))
  })
  return { path, start: () => go(), close: () => server.close() }
}

/** A socket to the producer, passed in a message over a unix session as a file descriptor. */
async function passedFd(): Promise<number> {
  const [client, server, close] = await sessionPair('unix')
  const feed = await producer()
  try {
    const socket = net.connect(feed.path)
    await once(socket, 'connect')
    const tx = client.open<{ name: string; att: net.Socket }>()
    const rx = await server.accept<{ name: string; att: net.Socket }>()
    await tx.send({ name: 'blob', att: socket })
    const { att } = await rx.receive()
    // The receiver has its own descriptor now: the sender lets go of its copy before bytes flow.
    socket.destroy()
    const start = performance.now()
    const received = drain(att)
    feed.start()
    expect(await received, SIZE)
    return SIZE / MiB / ((performance.now() - start) / 1000)
  } finally {
    feed.close()
    await close()
  }
}

/** The producer's socket read directly: the raw pipe a passed descriptor should equal. */
async function directFd(): Promise<number> {
  const feed = await producer()
  try {
    const socket = net.connect(feed.path)
    await once(socket, 'connect')
    const start = performance.now()
    const received = drain(socket)
    feed.start()
    expect(await received, SIZE)
    socket.destroy()
    return SIZE / MiB / ((performance.now() - start) / 1000)
  } finally {
    feed.close()
  }
}

const mb = (bytes: number) => bytes / MiB

export async function run(): Promise<Row[]> {
  const rows: Row[] = []
  const cases: {
    name: string
    ours: () => Promise<number>
    theirs: () => Promise<number>
    baseline: string
    target: string
  }[] = [
    {
      name: 'unix, copied',
      ours: () => session('unix'),
      theirs: () => raw('unix'),
      baseline: 'raw unix socket pipe',
      target: '>= 0.8',
    },
    {
      name: 'unix, passed as a file descriptor',
      ours: passedFd,
      theirs: directFd,
      baseline: 'the same unix socket read directly',
      target: '>= 0.95',
    },
    {
      name: 'tcp',
      ours: () => session('tcp'),
      theirs: () => raw('tcp'),
      baseline: 'raw tcp socket pipe',
      target: '>= 0.8',
    },
    {
      name: 'tls',
      ours: () => session('tls'),
      theirs: () => raw('tls'),
      baseline: 'raw tls socket pipe',
      target: '>= 0.8',
    },
  ]
  const size = `${SIZE / MiB} MiB`
  for (const c of cases) {
    // Peak memory of the libswarm side, in its first round (fresh process state per case).
    const rounds = quick ? 1 : 3
    let peak = { held: 0, rss: 0 }
    const r = await paired(
      async () => {
        const m = await peakMemory(c.ours)
        peak = { held: Math.max(peak.held, m.held), rss: Math.max(peak.rss, m.rss) }
        return m.result
      },
      c.theirs,
      rounds,
    )
    rows.push({
      section: 'streams',
      name: `${size} ${c.name}`,
      value: r.a,
      unit: 'MiB/s',
      baseline: c.baseline,
      baselineValue: r.b,
      ratio: r.ratio,
      target: c.target,
      met: check(r.ratio, c.target),
    })
    rows.push({
      section: 'streams',
      name: `${size} ${c.name}: peak memory (heap + buffers)`,
      value: mb(peak.held),
      unit: 'MiB',
      note: `peak RSS growth ${mb(peak.rss).toFixed(1)} MiB; both ends are in this process`,
    })
  }
  // A slow consumer (reads 1 MiB, naps 5 ms): memory must not grow with the size sent.
  const small = quick ? 8 * MiB : 64 * MiB
  const big = small * 4
  const a = await peakMemory(() => session('tcp', small, true))
  const b = await peakMemory(() => session('tcp', big, true))
  const bounded = b.held <= Math.max(2 * a.held, 32 * MiB)
  rows.push({
    section: 'streams',
    name: `slow consumer, tcp: peak memory sending ${mb(small)} MiB`,
    value: mb(a.held),
    unit: 'MiB',
    note: `consumer reads ${a.result.toFixed(0)} MiB/s`,
  })
  rows.push({
    section: 'streams',
    name: `slow consumer, tcp: peak memory sending ${mb(big)} MiB`,
    value: mb(b.held),
    unit: 'MiB',
    baseline: `peak sending ${mb(small)} MiB`,
    baselineValue: mb(a.held),
    ratio: b.held / a.held,
    target: 'bounded',
    met: bounded,
    note: 'bounded: 4x the bytes sent, at most 2x the memory (or under 32 MiB)',
  })
  return rows
}
