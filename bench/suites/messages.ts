/**
 * (1) Small messages one way: a 3-field object, the sender awaiting each send, the receiver taking
 * each one. libswarm in memory (a pipe, and a memory:// session); over unix and tcp against a raw
 * `net` socket carrying length-prefixed msgpack frames with batched writes; over websocket against
 * raw `ws` sending one binary message per object.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { memorySessionPair, pipe } from '@libswarm/core'
import { WebSocket, WebSocketServer } from 'ws'
import {
  batchWriter,
  check,
  frameReader,
  paired,
  quick,
  type Row,
  rawCodec,
  rounds,
  type Small,
  type SocketKind,
  sessionPair,
  socketPair,
} from '../lib/common.ts'

const COUNT = quick ? 20_000 : 300_000

async function rawSocket(kind: SocketKind): Promise<number> {
  const [client, server, close] = await socketPair(kind)
  const codec = rawCodec()
  let received = 0
  const done = new Promise<void>((resolve) => {
    server.on(
      'data',
      frameReader((bytes) => {
        codec.decode(bytes)
        if (++received === COUNT) resolve()
      }),
    )
  })
  const send = batchWriter(client)
  const start = performance.now()
  for (let id = 0; id < COUNT; id++) {
    const wait = send({ id, name: 'message', ok: true })
    if (wait) await wait
    else await undefined
  }
  await done
  const seconds = (performance.now() - start) / 1000
  close()
  return COUNT / seconds
}

async function oneWay(
  tx: { send(value: Small): Promise<void> },
  rx: { receive(): Promise<unknown> },
): Promise<number> {
  const done = (async () => {
    for (let i = 0; i < COUNT; i++) await rx.receive()
  })()
  const start = performance.now()
  for (let id = 0; id < COUNT; id++) await tx.send({ id, name: 'message', ok: true })
  await done
  return COUNT / ((performance.now() - start) / 1000)
}

async function session(kind: 'unix' | 'unix-socket' | 'tcp' | 'ws'): Promise<number> {
  const [client, server, close] = await sessionPair(kind)
  const tx = client.open<Small>()
  const rx = await server.accept()
  // The first message opens the stream; start timing on a warm channel.
  const result = await oneWay(tx, rx)
  await close()
  return result
}

async function memoryPipe(): Promise<number> {
  const [rx, tx] = pipe<Small>()
  return oneWay(tx, rx)
}

async function memorySession(): Promise<number> {
  const [a, b] = memorySessionPair('bench')
  const tx = a.open<Small>()
  const rx = await b.accept()
  const result = await oneWay(tx, rx)
  a.abort('bench over')
  b.abort('bench over')
  return result
}

async function rawWs(): Promise<number> {
  const http = createServer()
  const wss = new WebSocketServer({ server: http })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const codec = rawCodec()
  let received = 0
  let resolve!: () => void
  const done = new Promise<void>((r) => (resolve = r))
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      codec.decode(data as Buffer)
      if (++received === COUNT) resolve()
    })
  })
  const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`)
  await once(ws, 'open')
  const start = performance.now()
  for (let id = 0; id < COUNT; id++) {
    const bytes = codec.encode({ id, name: 'message', ok: true }).slice()
    // Bound what ws buffers: every 1 000 messages, wait until that one is written.
    if (id % 1000 === 999) await new Promise<void>((r) => ws.send(bytes, () => r()))
    else ws.send(bytes)
  }
  await done
  const result = COUNT / ((performance.now() - start) / 1000)
  ws.terminate()
  wss.close()
  http.close()
  return result
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = []
  rows.push({
    section: 'messages',
    name: 'memory: pipe()',
    value: await rounds(memoryPipe),
    unit: 'msg/s',
  })
  rows.push({
    section: 'messages',
    name: 'memory: memory:// session',
    value: await rounds(memorySession),
    unit: 'msg/s',
  })
  for (const kind of ['unix', 'tcp'] as const) {
    const r = await paired(
      () => session(kind),
      () => rawSocket(kind),
    )
    rows.push({
      section: 'messages',
      name: `${kind}: libswarm session`,
      value: r.a,
      unit: 'msg/s',
      baseline: `raw ${kind} socket, framed msgpack, batched writes`,
      baselineValue: r.b,
      ratio: r.ratio,
      target: '>= 0.75',
      met: check(r.ratio, '>= 0.75'),
    })
  }
  // The unix link with fd passing reads and writes through the addon; without it, through net.Socket.
  const plain = await paired(
    () => session('unix-socket'),
    () => rawSocket('unix'),
  )
  rows.push({
    section: 'messages',
    name: 'unix (passFds: false): libswarm session',
    value: plain.a,
    unit: 'msg/s',
    baseline: 'raw unix socket, framed msgpack, batched writes',
    baselineValue: plain.b,
    ratio: plain.ratio,
    target: '>= 0.75',
    met: check(plain.ratio, '>= 0.75'),
  })
  const r = await paired(() => session('ws'), rawWs)
  rows.push({
    section: 'messages',
    name: 'websocket: libswarm session',
    value: r.a,
    unit: 'msg/s',
    baseline: 'raw ws, one binary message per object',
    baselineValue: r.b,
    ratio: r.ratio,
  })
  return rows
}
