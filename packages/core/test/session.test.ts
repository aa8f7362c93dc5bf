import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  ChannelAbortedError,
  ChannelClosedError,
  type Codec,
  DecodeError,
  jsonCodec,
  LimitExceededError,
  msgpackCodec,
  pipe,
  type Receiver,
  type Sender,
  SessionClosedError,
} from '../src/index.ts'
import { bounded, pairSessions, tcpSessions } from './session-helpers.ts'

const setups = [
  { name: 'link pair', make: pairSessions },
  {
    name: 'tcp',
    make: async (...args: Parameters<typeof pairSessions>) =>
      (await tcpSessions(...args)).slice(0, 2) as Awaited<ReturnType<typeof pairSessions>>,
  },
]

describe.each(setups)('session over $name', ({ make }) => {
  it('carries messages on a channel the client opens, in order', async () => {
    const [client, server] = await make()
    const tx = client.open<{ n: number }>()
    for (let n = 0; n < 100; n++) await tx.send({ n })
    await tx.close()
    const rx = await server.accept<{ n: number }>(bounded())
    const got: number[] = []
    for await (const m of rx) got.push(m.n)
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
    await client.close()
    expect(await server.closed).toBeUndefined()
  })

  it('answers a request on the return Sender it carries, both sides opening', async () => {
    const [client, server] = await make()
    type Req = { q: string; reply: Sender<string> }
    const serving = (async () => {
      for await (const rx of server) {
        for await (const { q, reply } of rx as Receiver<Req>) {
          await reply.send(`re: ${q}`)
          await reply.close()
        }
      }
    })()
    const tx = client.open<Req>()
    for (const q of ['a', 'b', 'c']) {
      const [answers, reply] = pipe<string>()
      await tx.send({ q, reply })
      expect(await answers.receive(bounded())).toBe(`re: ${q}`)
      await expect(answers.receive(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
    }
    // The server opens one too.
    const back = server.open<string>()
    await back.send('from server')
    const rx = await client.accept<string>(bounded())
    expect(await rx.receive(bounded())).toBe('from server')
    await back.close()
    await tx.close()
    await client.close()
    await serving
  })

  it('nests a Receiver and a Sender three levels deep, both ways', async () => {
    const [client, server] = await make()
    const [deepRx, deepTx] = pipe<string>()
    const [upRx, upTx] = pipe<string>()
    const tx = client.open<unknown>()
    await tx.send({ a: { b: { c: [deepRx, upTx] } } })
    const rx = await server.accept<{ a: { b: { c: [Receiver<string>, Sender<string>] } } }>(bounded())
    const msg = await rx.receive(bounded())
    const [remoteRx, remoteTx] = msg.a.b.c
    await deepTx.send('down')
    expect(await remoteRx.receive(bounded())).toBe('down')
    await remoteTx.send('up')
    expect(await upRx.receive(bounded())).toBe('up')
    // Server sends a channel of its own back inside a message on the client's Sender.
    const [srvRx, srvTx] = pipe<number>()
    await remoteTx.close()
    await expect(upRx.receive(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
    const back = server.open<{ tx: Sender<number> }>()
    await back.send({ tx: srvTx })
    const crx = await client.accept<{ tx: Sender<number> }>(bounded())
    const got = await crx.receive(bounded())
    await got.tx.send(42)
    expect(await srvRx.receive(bounded())).toBe(42)
    await client.abort('done')
  })

  it('an end sent back to the session it came from is the original object', async () => {
    const [client, server] = await make()
    const [, original] = pipe<string>()
    const tx = client.open<{ s: Sender<string> }>()
    await tx.send({ s: original })
    const rx = await server.accept<{ s: Sender<string> }>(bounded())
    const { s } = await rx.receive(bounded())
    const back = server.open<{ s: Sender<string> }>()
    await back.send({ s })
    await back.send({ s })
    const crx = await client.accept<{ s: Sender<string> }>(bounded())
    expect((await crx.receive(bounded())).s).toBe(original)
    expect((await crx.receive(bounded())).s).toBe(original)
    // The same end sent twice arrives as one object.
    await tx.send({ s: original })
    expect((await rx.receive(bounded())).s).toBe(s)
    client.abort('done')
  })

  it('carries Node and web byte streams both ways', async () => {
    const [client, server] = await make()
    const duplex = new PassThrough()
    const web = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('web bytes'))
        c.close()
      },
    })
    const tx = client.open<unknown>()
    await tx.send({ file: Readable.from([Buffer.from('node '), Buffer.from('bytes')]), duplex, web })
    const rx = await server.accept<{ file: Readable; duplex: PassThrough; web: ReadableStream<Uint8Array> }>(
      bounded(),
    )
    const m = await rx.receive(bounded())
    let text = ''
    for await (const chunk of m.file) text += chunk
    expect(text).toBe('node bytes')
    const reader = m.web.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('web bytes')
    // Duplex both ways: what the server writes goes into the client's PassThrough, whose output
    // comes back to the server.
    m.duplex.write('ping')
    m.duplex.end()
    const chunks: Buffer[] = []
    for await (const c of m.duplex) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('ping')
    client.abort('done')
  })

  it('propagates abort with its reason, and cancel back to the sender', async () => {
    const [client, server] = await make()
    const tx = client.open<number>()
    await tx.send(1)
    tx.abort('it broke')
    const rx = await server.accept<number>(bounded())
    expect(await rx.receive(bounded())).toBe(1)
    const error = await rx.receive(bounded()).catch((e) => e)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect(error.message).toMatch(/it broke/)
    const tx2 = client.open<number>()
    const rx2 = await server.accept<number>(bounded())
    rx2.cancel()
    await tx2.closed
    await expect(tx2.send(2)).rejects.toBeInstanceOf(ChannelClosedError)
    client.abort('done')
  })

  it('a message too big errors that send only; a bad message errors only its channel', async () => {
    const [client, server] = await make({ limits: { maxMessageSize: 4096 } })
    const tx = client.open<unknown>()
    await expect(tx.send({ blob: new Uint8Array(10_000) })).rejects.toBeInstanceOf(LimitExceededError)
    await tx.send('still fine')
    const rx = await server.accept(bounded())
    expect(await rx.receive(bounded())).toBe('still fine')
    client.abort('done')
  })

  it('messages larger than the window pass, one at a time and in order', async () => {
    const [client, server] = await make(
      { limits: { streamWindow: 64 * 1024 } },
      { limits: { streamWindow: 64 * 1024 } },
    )
    const tx = client.open<{ n: number; blob: Uint8Array }>()
    const sending = (async () => {
      for (let n = 0; n < 20; n++) await tx.send({ n, blob: new Uint8Array(1024 * 1024).fill(n) })
      await tx.close()
    })()
    const rx = await server.accept<{ n: number; blob: Uint8Array }>(bounded())
    let expected = 0
    for await (const { n, blob } of rx) {
      expect(n).toBe(expected)
      expect(blob.byteLength).toBe(1024 * 1024)
      expect(blob[blob.byteLength - 1]).toBe(n)
      expected++
    }
    await sending
    expect(expected).toBe(20)
    client.abort('done')
  })

  it('kills: pending receive and send reject promptly with SessionClosedError', async () => {
    const [client, server] = await make(
      { limits: { streamWindow: 1024 } },
      { limits: { streamWindow: 1024 } },
    )
    const tx = client.open<Uint8Array>()
    const rx = await server.accept(bounded())
    void rx
    // Fill the window so the next send waits.
    await tx.send(new Uint8Array(2000))
    const waitingSend = tx.send(new Uint8Array(10))
    const otherRx = server.open<string>()
    const crx = await client.accept<string>(bounded())
    const waitingReceive = crx.receive()
    const start = Date.now()
    server.abort(new Error('killed'))
    await expect(waitingSend).rejects.toBeInstanceOf(SessionClosedError)
    await expect(waitingReceive).rejects.toBeInstanceOf(SessionClosedError)
    expect(Date.now() - start).toBeLessThan(1000)
    expect(await client.closed).toBeInstanceOf(SessionClosedError)
    void otherRx
  })
})

describe('codec negotiation', () => {
  it('uses json when the server only has json', async () => {
    const [client, server] = await pairSessions({}, { codecs: [jsonCodec()] })
    expect(client.codec).toBe('json')
    expect(server.codec).toBe('json')
    const tx = client.open<{ d: Date }>()
    await tx.send({ d: new Date(0) })
    const rx = await server.accept<{ d: Date }>(bounded())
    expect((await rx.receive(bounded())).d).toEqual(new Date(0))
    client.abort('done')
  })

  it('no common codec is a clear HandshakeError on both sides', async () => {
    const result = await pairSessions({ codecs: [msgpackCodec()] }, { codecs: [jsonCodec()] }).catch((e) => e)
    expect(result).toBeInstanceOf(Error)
    expect(String(result.message)).toMatch(/no common codec/)
  })

  it('a message that fails to decode errors only its channel', async () => {
    // A client codec that writes 0xc1 (never valid msgpack) for the value 'BAD'.
    const lying: Codec = {
      name: 'msgpack',
      create(hooks) {
        const inner = msgpackCodec().create(hooks)
        return {
          encode: (value) => (value === 'BAD' ? new Uint8Array([0xc1]) : inner.encode(value)),
          decode: (bytes) => inner.decode(bytes),
        }
      },
    }
    const [client, server] = await pairSessions({ codecs: [lying] })
    const bad = client.open<unknown>()
    const good = client.open<unknown>()
    await bad.send('BAD')
    await good.send('ok')
    const rxBad = await server.accept(bounded())
    const rxGood = await server.accept(bounded())
    await expect(rxBad.receive(bounded())).rejects.toBeInstanceOf(DecodeError)
    expect(await rxGood.receive(bounded())).toBe('ok')
    await bad.closed
    await expect(bad.send(1)).rejects.toBeInstanceOf(DecodeError)
    client.abort('done')
  })
})
