import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  createSession,
  decodeHello,
  encodeFrame,
  encodeHello,
  FrameType,
  HandshakeError,
  isSender,
  linkPair,
  PROTOCOL_VERSION,
  ProtocolError,
  type Session,
} from '../src/index.ts'
import { handshakeVector, nestedVector, parseVector, toHexLines } from './protocol-vectors.ts'
import { bounded } from './session-helpers.ts'

const docs = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../docs/protocol/${name}`, import.meta.url)), 'utf8')

const hex = (bytes: Uint8Array) => toHexLines(bytes)

describe('docs/protocol test vectors match the implementation', () => {
  it('handshake.hex: the bytes both sides write', async () => {
    const vector = parseVector(docs('handshake.hex'))
    const actual = await handshakeVector()
    expect(hex(actual.client)).toBe(hex(vector.client!))
    expect(hex(actual.server)).toBe(hex(vector.server!))
  })

  it('nested-message.hex: the bytes of a message with a nested Sender and a byte stream', async () => {
    const vector = parseVector(docs('nested-message.hex'))
    const actual = await nestedVector()
    expect(hex(actual.client)).toBe(hex(vector.client!))
  })

  it('a server fed the vectors by hand decodes the message, its Sender and its stream', async () => {
    const handshake = parseVector(docs('handshake.hex'))
    const nested = parseVector(docs('nested-message.hex'))
    const [raw, serverLink] = linkPair()
    const received: Uint8Array[] = []
    raw.start({ data: (c) => void received.push(c), end() {}, error() {}, drain() {}, close() {} })
    raw.write(handshake.client!)
    const server = await createSession(serverLink, { role: 'server' })
    raw.write(nested.client!)
    const rx = await server.accept<{ op: string; reply: unknown; body: Readable }>(bounded())
    const message = await rx.receive(bounded())
    expect(message.op).toBe('read')
    expect(isSender(message.reply)).toBe(true)
    let text = ''
    for await (const chunk of message.body) text += chunk
    expect(text).toBe('hello')
    server.abort('done')
  })
})

describe('handshake', () => {
  async function serverWithRaw(clientHello: Uint8Array) {
    const [raw, serverLink] = linkPair()
    const received: Uint8Array[] = []
    raw.start({ data: (c) => void received.push(c), end() {}, error() {}, drain() {}, close() {} })
    raw.write(clientHello)
    const result = await createSession(serverLink, { role: 'server' }).catch((e: unknown) => e)
    return { result, received }
  }

  it('a version mismatch is a clear HandshakeError, and the server says which version it speaks', async () => {
    const hello = encodeHello({
      version: 2,
      status: 0,
      maxMessageSize: 1 << 20,
      streamWindow: 1024,
      sessionWindow: 4096,
      codecs: ['msgpack'],
    })
    const { result, received } = await serverWithRaw(hello)
    expect(result).toBeInstanceOf(HandshakeError)
    expect((result as Error).message).toMatch(/version 2.*version 1/)
    const answer = decodeHello(received[0]!)!
    expect(answer.hello.version).toBe(PROTOCOL_VERSION)
    expect(answer.hello.status).toBe(1)
  })

  it('a client refused for its version gets a HandshakeError naming both versions', async () => {
    const [clientLink, raw] = linkPair()
    raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
    const pending = createSession(clientLink, { role: 'client' }).catch((e: unknown) => e)
    raw.write(
      encodeHello({
        version: 7,
        status: 1,
        maxMessageSize: 0,
        streamWindow: 0,
        sessionWindow: 0,
        codecs: [],
      }),
    )
    const error = await pending
    expect(error).toBeInstanceOf(HandshakeError)
    expect((error as Error).message).toMatch(/version 7/)
  })

  it('wrong magic bytes are a HandshakeError that says what the peer is not', async () => {
    const { result } = await serverWithRaw(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'))
    expect(result).toBeInstanceOf(HandshakeError)
    expect((result as Error).message).toMatch(/magic/)
  })

  it('a handshake that never completes hits handshakeTimeout', async () => {
    const [, serverLink] = linkPair()
    const started = Date.now()
    const error = await createSession(serverLink, {
      role: 'server',
      limits: { handshakeTimeout: 100 },
    }).catch((e: unknown) => e)
    expect((error as Error).name).toBe('LimitExceededError')
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('frames', () => {
  async function afterHandshake(): Promise<{ server: Session; write(bytes: Uint8Array): void }> {
    const handshake = parseVector(docs('handshake.hex'))
    const [raw, serverLink] = linkPair()
    raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
    raw.write(handshake.client!)
    const server = await createSession(serverLink, { role: 'server' })
    return { server, write: (bytes) => raw.write(bytes) }
  }

  it('PING is answered and does not disturb channels', async () => {
    const { server, write } = await afterHandshake()
    write(encodeFrame(FrameType.Ping, 0, new Uint8Array(8)))
    write(encodeFrame(FrameType.Open, 1, new Uint8Array([1])))
    write(encodeFrame(FrameType.Data, 1, new Uint8Array([0xa2, 0x68, 0x69]))) // "hi"
    const rx = await server.accept(bounded())
    expect(await rx.receive(bounded())).toBe('hi')
    server.abort('done')
  })

  it('an OPEN with an id of the wrong parity is a protocol error', async () => {
    const { server, write } = await afterHandshake()
    write(encodeFrame(FrameType.Open, 2, new Uint8Array([1])))
    expect(await server.closed).toBeInstanceOf(ProtocolError)
  })

  it('ids must increase', async () => {
    const { server, write } = await afterHandshake()
    write(encodeFrame(FrameType.Open, 5, new Uint8Array([1])))
    write(encodeFrame(FrameType.Open, 3, new Uint8Array([1])))
    expect(await server.closed).toBeInstanceOf(ProtocolError)
  })

  it('overrunning a stream window is a protocol error', async () => {
    const { server, write } = await afterHandshake()
    write(encodeFrame(FrameType.Open, 1, new Uint8Array([1])))
    // 256 KiB window + 16 MiB max message; send 17 MiB of small strings nobody reads.
    const message = encodeFrame(FrameType.Data, 1, new Uint8Array([0xc4, 0xff, ...new Uint8Array(0xff)]))
    const batch = new Uint8Array(message.byteLength * 1000)
    for (let i = 0; i < 1000; i++) batch.set(message, i * message.byteLength)
    for (
      let i = 0;
      i < 70 && !(await Promise.race([server.closed.then(() => true), Promise.resolve(false)]));
      i++
    ) {
      write(batch)
    }
    expect(await server.closed).toBeInstanceOf(ProtocolError)
  })
})
