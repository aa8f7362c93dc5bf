import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { copy, pipe, type Receiver, type Sender } from '../src/index.ts'

const bounded = () => ({ signal: AbortSignal.timeout(2000) })

describe('channels inside messages (in memory, by reference)', () => {
  it('answers a request on the return channel it carries', async () => {
    type Request = { n: number; reply: Sender<number> }
    const [requests, client] = pipe<Request>()
    const server = (async () => {
      for await (const { n, reply } of requests) {
        await reply.send(n * 2)
        await reply.close()
      }
    })()
    for (const n of [1, 2, 3]) {
      const [answers, reply] = pipe<number>()
      await client.send({ n, reply })
      expect(await answers.receive(bounded())).toBe(n * 2)
    }
    await client.close()
    await server
  })

  it('carries channels three levels deep, both ends, and each level still works', async () => {
    type Level3 = { note: string }
    type Level2 = { inner: { deeper: Sender<Level3>[] }; back: Receiver<string> }
    type Level1 = { payload: { level2: Sender<Level2> } }

    const [rx1, tx1] = pipe<Level1>()
    const [rx2, tx2] = pipe<Level2>()
    const [rx3, tx3] = pipe<Level3>()
    const [backRx, backTx] = pipe<string>()

    await tx1.send({ payload: { level2: tx2 } })
    const got1 = await rx1.receive(bounded())
    await got1.payload.level2.send({ inner: { deeper: [tx3] }, back: backRx })
    const got2 = await rx2.receive(bounded())
    await got2.inner.deeper[0]!.send({ note: 'deepest' })
    expect(await rx3.receive(bounded())).toEqual({ note: 'deepest' })
    await backTx.send('up')
    expect(await got2.back.receive(bounded())).toBe('up')
    expect(got1.payload.level2).toBe(tx2)
  })

  it('lets one channel end be sent twice, and both copies reach the same channel', async () => {
    const [rx, tx] = pipe<{ to: Sender<string> }>()
    const [out, target] = pipe<string>()
    await tx.send({ to: target })
    await tx.send({ to: target })
    const a = await rx.receive(bounded())
    const b = await rx.receive(bounded())
    await a.to.send('first')
    await b.to.send('second')
    expect(await out.receive(bounded())).toBe('first')
    expect(await out.receive(bounded())).toBe('second')
  })

  it('carries byte streams, Node and web, by reference', async () => {
    const [rx, tx] = pipe<{ node: Readable; duplex: PassThrough; web: ReadableStream<Uint8Array> }>()
    const node = Readable.from([Buffer.from('node bytes')])
    const duplex = new PassThrough()
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('web bytes'))
        controller.close()
      },
    })
    await tx.send({ node, duplex, web })
    const got = await rx.receive(bounded())
    expect(got.node).toBe(node)
    const chunks: Buffer[] = []
    for await (const chunk of got.node) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('node bytes')
    duplex.end('duplex bytes')
    expect((got.duplex.read() as Buffer).toString()).toBe('duplex bytes')
    const reader = got.web.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('web bytes')
  })

  it('copy forwards every value, closes the destination and counts', async () => {
    const [src, srcTx] = pipe<number>()
    const [dstRx, dst] = pipe<number>()
    const copying = copy(dst, src)
    for (let i = 0; i < 100; i++) await srcTx.send(i)
    await srcTx.close()
    const got: number[] = []
    for await (const v of dstRx) got.push(v)
    expect(await copying).toBe(100)
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('copy passes an abort on to the destination', async () => {
    const [src, srcTx] = pipe<number>()
    const [dstRx, dst] = pipe<number>()
    const copying = copy(dst, src)
    await srcTx.send(1)
    srcTx.abort('upstream failed')
    await expect(copying).rejects.toThrow(/upstream failed/)
    expect(await dstRx.receive(bounded())).toBe(1)
    await expect(dstRx.receive(bounded())).rejects.toThrow(/upstream failed/)
  })

  it('copy cancels the source when the destination stops reading', async () => {
    const [src, srcTx] = pipe<number>({ highWaterMark: 1 })
    const [dstRx, dst] = pipe<number>({ highWaterMark: 1 })
    const copying = copy(dst, src)
    await srcTx.send(1)
    dstRx.cancel()
    await expect(copying).rejects.toThrow(/stopped accepting values/)
    await expect(srcTx.send(2)).rejects.toThrow(/stopped reading/)
  })
})
