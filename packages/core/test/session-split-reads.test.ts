import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createSession, type Link, linkPair } from '../src/index.ts'

/** A link whose reads arrive cut at pseudo-random places (1 byte to 70 KiB), as a socket may cut them. */
function choppy(link: Link, seed: number): Link {
  let state = seed
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state
  }
  return {
    peer: link.peer,
    write: (chunk) => link.write(chunk),
    writev: (chunks) => link.writev!(chunks),
    end: () => link.end(),
    destroy: (error) => link.destroy(error),
    start(handlers) {
      link.start({
        ...handlers,
        data(chunk) {
          let offset = 0
          while (offset < chunk.byteLength) {
            const r = next()
            const size = r % 4 === 0 ? 1 + (r % 13) : 1 + (r % (70 * 1024))
            handlers.data(chunk.subarray(offset, offset + size))
            offset += size
          }
        },
      })
    },
  }
}

function pattern(size: number, salt: number): Buffer {
  const out = Buffer.alloc(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + salt) & 0xff
  return out
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

describe('frames cut across reads', () => {
  for (const seed of [1, 7, 42]) {
    it(`byte streams and messages arrive whole and in order (seed ${seed})`, async () => {
      const [a, b] = linkPair()
      const [client, server] = await Promise.all([
        createSession(choppy(a, seed), { role: 'client' }),
        createSession(choppy(b, seed + 1), { role: 'server' }),
      ])
      const first = pattern(3 * 1024 * 1024 + 17, 1)
      const second = pattern(700 * 1024 + 3, 2)
      const big = pattern(200 * 1024, 3)
      const tx = client.open<unknown>()
      const rx = await server.accept<unknown>()
      const sent = (async () => {
        await tx.send({ n: 0, data: Readable.from([first.subarray(0, 100), first.subarray(100)]) })
        for (let n = 1; n <= 50; n++) await tx.send({ n, blob: n % 10 === 0 ? big : pattern(n * 97, n) })
        await tx.send({ n: 51, data: Readable.from([second]) })
        await tx.close()
      })()
      const streams: Promise<Buffer>[] = []
      for (let n = 0; n <= 51; n++) {
        const message = (await rx.receive()) as { n: number; data?: Readable; blob?: Uint8Array }
        expect(message.n).toBe(n)
        if (message.data) streams.push(collect(message.data))
        else expect(Buffer.from(message.blob!).equals(n % 10 === 0 ? big : pattern(n * 97, n))).toBe(true)
      }
      await sent
      const [gotFirst, gotSecond] = await Promise.all(streams)
      expect(gotFirst!.equals(first)).toBe(true)
      expect(gotSecond!.equals(second)).toBe(true)
      await Promise.all([client.close(), server.close()])
    })
  }
})
