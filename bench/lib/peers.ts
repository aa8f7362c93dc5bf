/**
 * Request/response peers, all behind one shape: `call(id)` resolves with the answer. Each peer sets
 * up its client and server in this process (nats through a real nats-server), and closes them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import * as grpc from '@grpc/grpc-js'
import { Client, pipe, type Sender, Server, type Service } from '@libswarm/core'
import { newWebSocketRpcSession, RpcTarget } from 'capnweb'
import * as nats from 'nats'
import { WebSocket, WebSocketServer } from 'ws'
import {
  frame,
  frameReader,
  median,
  percentile,
  rawCodec,
  type SocketKind,
  sessionPair,
  socketPair,
} from './common.ts'

export type Answer = { id: number; answer: number }
export type Request = { id: number; name: string; ok: boolean }

/** A connected client of some request/response system. */
export interface Peer {
  call(id: number): Promise<unknown>
  close(): Promise<void>
}

/** What {@link measureCalls} reports: round-trip median and p99 (µs), and pipelined calls per second. */
export interface CallFigures {
  median: number
  p99: number
  callsPerSec: number
}

/**
 * Measures one peer: `warmup` calls, then `sequential` timed round trips, then `pipelined` calls
 * issued by `inFlight` callers, each making its next call when its answer arrives. Closes the peer.
 */
export async function measureCalls(
  make: () => Promise<Peer>,
  counts: { warmup: number; sequential: number; pipelined: number; inFlight: number },
): Promise<CallFigures> {
  const peer = await make()
  try {
    let id = 0
    for (let i = 0; i < counts.warmup; i++) await peer.call(id++)
    const times: number[] = []
    for (let i = 0; i < counts.sequential; i++) {
      const start = performance.now()
      await peer.call(id++)
      times.push((performance.now() - start) * 1000)
    }
    let issued = 0
    const start = performance.now()
    await Promise.all(
      Array.from({ length: counts.inFlight }, async () => {
        while (issued < counts.pipelined) {
          issued++
          await peer.call(id++)
        }
      }),
    )
    const callsPerSec = counts.pipelined / ((performance.now() - start) / 1000)
    return { median: median(times), p99: percentile(times, 99), callsPerSec }
  } finally {
    await peer.close()
  }
}

/** A libswarm request: a message carrying a return Sender (the libchan pattern), over a session. */
export async function libswarmPeer(kind: 'unix' | 'tcp' | 'ws'): Promise<Peer> {
  type Req = Request & { reply: Sender<Answer> }
  const [client, server, close] = await sessionPair(kind)
  const tx = client.open<Req>()
  const rx = await server.accept<Req>()
  void (async () => {
    for await (const { id, reply } of rx) {
      await reply.send({ id, answer: id * 2 })
      await reply.close()
    }
  })().catch(() => {})
  return {
    async call(id) {
      const [answers, reply] = pipe<Answer>({ highWaterMark: 1 })
      await tx.send({ id, name: 'request', ok: true, reply })
      return answers.receive()
    },
    close,
  }
}

/**
 * A libswarm service call: `Client.call('Get')` against a `Server` whose `onGet` answers at once,
 * the request going over a session channel the server side feeds into the Server. Same pattern as
 * {@link libswarmPeer} (a new return Sender per call) plus the services layer: verbs, the reply
 * convention, per-call timeout, context and concurrency bound.
 */
export async function libswarmServicePeer(kind: 'unix' | 'tcp' | 'ws'): Promise<Peer> {
  const [client, server, close] = await sessionPair(kind)
  const service = new Server({ onGet: (args) => ({ id: Number(args[0]), answer: Number(args[0]) * 2 }) })
  const tx = client.open() as Service
  const rx = await server.accept()
  void (async () => {
    for await (const message of rx) await service.send(message as never, { peer: server.peer } as never)
  })().catch(() => {})
  const caller = new Client(tx)
  return {
    call: (id) => caller.get([String(id)]),
    async close() {
      await service.close()
      await close()
    },
  }
}

/** Frames written in one write per microtask turn (a ping-pong writes one per call). */
function microtaskWriter(socket: net.Socket): (value: unknown) => void {
  const codec = rawCodec()
  let chunks: Buffer[] = []
  const flush = () => {
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    chunks = []
    socket.write(data)
  }
  return (value) => {
    if (chunks.push(frame(codec.encode(value))) === 1) queueMicrotask(flush)
  }
}

/** Raw `net` ping-pong: length-prefixed msgpack, answers matched by id. */
export async function rawPeer(kind: SocketKind): Promise<Peer> {
  const [client, server, close] = await socketPair(kind)
  const codec = rawCodec()
  const answer = microtaskWriter(server)
  server.on(
    'data',
    frameReader((bytes) => {
      const { id } = codec.decode(bytes) as Request
      answer({ id, answer: id * 2 })
    }),
  )
  const waiting = new Map<number, (value: unknown) => void>()
  client.on(
    'data',
    frameReader((bytes) => {
      const value = codec.decode(bytes) as Answer
      waiting.get(value.id)?.(value)
      waiting.delete(value.id)
    }),
  )
  const request = microtaskWriter(client)
  return {
    call(id) {
      return new Promise((resolve) => {
        waiting.set(id, resolve)
        request({ id, name: 'request', ok: true })
      })
    },
    async close() {
      close()
    },
  }
}

/** Raw `ws` ping-pong: one binary message each way, answers matched by id. */
export async function rawWsPeer(): Promise<Peer> {
  const http = createServer()
  const wss = new WebSocketServer({ server: http })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const codec = rawCodec()
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const { id } = codec.decode(data as Buffer) as Request
      socket.send(codec.encode({ id, answer: id * 2 }).slice())
    })
  })
  const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`)
  await once(ws, 'open')
  const waiting = new Map<number, (value: unknown) => void>()
  ws.on('message', (data) => {
    const value = codec.decode(data as Buffer) as Answer
    waiting.get(value.id)?.(value)
    waiting.delete(value.id)
  })
  return {
    call(id) {
      return new Promise((resolve) => {
        waiting.set(id, resolve)
        ws.send(codec.encode({ id, name: 'request', ok: true }).slice())
      })
    },
    async close() {
      ws.terminate()
      wss.close()
      http.close()
    },
  }
}

class Api extends RpcTarget {
  echo(request: Request): Answer {
    return { id: request.id, answer: request.id * 2 }
  }
}

/** capnweb over `ws`: a call on the server's main stub. */
export async function capnwebPeer(): Promise<Peer> {
  // capnweb reads WebSocket.CONNECTING / OPEN from the global, which Node 20 lacks: lend it ws's.
  const g = globalThis as { WebSocket?: unknown }
  g.WebSocket ??= WebSocket
  const http = createServer()
  const wss = new WebSocketServer({ server: http })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  wss.on('connection', (socket) => {
    newWebSocketRpcSession(socket as never, new Api())
  })
  const ws = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`)
  await once(ws, 'open')
  const stub = newWebSocketRpcSession<Api>(ws as never)
  return {
    call: (id) => stub.echo({ id, name: 'request', ok: true }) as Promise<unknown>,
    async close() {
      ;(stub as unknown as Disposable)[Symbol.dispose]?.()
      ws.terminate()
      wss.close()
      http.close()
    },
  }
}

const codec = rawCodec()
/**
 * core's msgpack instance encodes into a shared buffer (the session copies it into its frame at
 * once); libraries that keep the bytes they are given (nats, ws without masking) get a copy.
 */
const encodeCopy = (value: unknown) => codec.encode(value).slice()
const serialize = (value: unknown) => Buffer.from(codec.encode(value))
const deserialize = (bytes: Buffer) => codec.decode(bytes)
const method = (path: string, stream: boolean) => ({
  path,
  requestStream: stream,
  responseStream: stream,
  requestSerialize: serialize,
  requestDeserialize: deserialize,
  responseSerialize: serialize,
  responseDeserialize: deserialize,
})
const service = {
  echo: method('/bench.Bench/Echo', false),
  chat: method('/bench.Bench/Chat', true),
} as unknown as grpc.ServiceDefinition

/** @grpc/grpc-js over TCP (h2c), msgpack bodies: a unary call, or one message each way on a bidi stream. */
export async function grpcPeer(style: 'unary' | 'bidi'): Promise<Peer> {
  const server = new grpc.Server()
  server.addService(service, {
    echo: (call: grpc.ServerUnaryCall<Request, Answer>, callback: grpc.sendUnaryData<Answer>) =>
      callback(null, { id: call.request.id, answer: call.request.id * 2 }),
    chat: (call: grpc.ServerDuplexStream<Request, Answer>) => {
      call.on('data', (request: Request) => call.write({ id: request.id, answer: request.id * 2 }))
      call.on('end', () => call.end())
    },
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  )
  const Client = grpc.makeGenericClientConstructor(service, 'Bench')
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    echo(request: Request, callback: (error: Error | null, answer?: Answer) => void): void
    chat(): grpc.ClientDuplexStream<Request, Answer>
    close(): void
  }
  const close = async () => {
    client.close()
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
  }
  if (style === 'unary') {
    return {
      call: (id) =>
        new Promise((resolve, reject) =>
          client.echo({ id, name: 'request', ok: true }, (error, answer) =>
            error ? reject(error) : resolve(answer),
          ),
        ),
      close,
    }
  }
  const stream = client.chat()
  const waiting = new Map<number, (value: unknown) => void>()
  stream.on('data', (answer: Answer) => {
    waiting.get(answer.id)?.(answer)
    waiting.delete(answer.id)
  })
  stream.on('error', () => {})
  return {
    call: (id) =>
      new Promise((resolve) => {
        waiting.set(id, resolve)
        stream.write({ id, name: 'request', ok: true })
      }),
    async close() {
      stream.end()
      await close()
    },
  }
}

/** Why nats-server cannot run here, or undefined when it can. */
export function natsUnavailable(): string | undefined {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  if (probe.error) return 'nats-server is not installed (Debian package nats-server)'
  return undefined
}

/** A real nats-server on a free loopback port, stopped by `stop()`. */
export async function startNatsServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const child: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('nats-server did not start')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    },
  }
}

/** nats request/reply through nats-server: a responder connection and a requester connection. */
export async function natsPeer(port: number): Promise<Peer> {
  const servers = `127.0.0.1:${port}`
  const responder = await nats.connect({ servers })
  const requester = await nats.connect({ servers })
  responder.subscribe('bench.echo', {
    callback: (error, message) => {
      if (error) return
      const { id } = codec.decode(message.data) as Request
      message.respond(encodeCopy({ id, answer: id * 2 }))
    },
  })
  await responder.flush()
  return {
    call: async (id) =>
      codec.decode(
        (
          await requester.request('bench.echo', encodeCopy({ id, name: 'request', ok: true }), {
            timeout: 10_000,
          })
        ).data,
      ),
    async close() {
      await requester.close()
      await responder.close()
    },
  }
}
