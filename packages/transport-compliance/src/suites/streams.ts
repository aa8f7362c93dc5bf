import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Session } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

const MB = 1024 * 1024

let gcFn: (() => void) | undefined
function liveBytes(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc')
    gcFn = runInNewContext('gc') as () => void
  }
  gcFn()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

function source(total: number, chunkSize = 64 * 1024): Readable {
  const chunk = Buffer.alloc(chunkSize, 0x5a)
  let sent = 0
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (sent >= total) return void this.push(null)
      const size = Math.min(chunkSize, total - sent)
      sent += size
      this.push(size === chunkSize ? Buffer.from(chunk) : chunk.subarray(0, size))
    },
  })
}

/** Sends `total` bytes from `from` to `to` inside a message; returns bytes received and the memory peak. */
async function bigStream(
  from: Session,
  to: Session,
  total: number,
): Promise<{ bytes: number; peak: number }> {
  const tx = from.open<{ body: Readable }>()
  await tx.send({ body: source(total) })
  const rx = await to.accept<{ body: Readable }>(bounded())
  const { body } = await rx.receive(bounded())
  const baseline = liveBytes()
  let peak = 0
  let bytes = 0
  let nextCheck = 10 * MB
  await pipeline(
    body,
    new Writable({
      highWaterMark: 64 * 1024,
      write(data: Buffer, _encoding, callback) {
        bytes += data.length
        if (bytes >= nextCheck) {
          nextCheck += 10 * MB
          peak = Math.max(peak, liveBytes() - baseline)
        }
        setImmediate(callback) // a consumer slower than the producer
      },
    }),
  )
  return { bytes, peak }
}

export function streamsSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('streams', 'Node Readable, Writable and Duplex, both ways', async () => {
    await using pair = await ctx.pair()
    for (const [from, to] of [
      [pair.client, pair.server],
      [pair.server, pair.client],
    ] as const) {
      const sink: Buffer[] = []
      const writable = new Writable({
        write(chunk: Buffer, _e, cb) {
          sink.push(chunk)
          cb()
        },
      })
      const finished = new Promise<void>((resolve) => writable.on('finish', resolve))
      const echo = new PassThrough()
      const tx = from.open<unknown>()
      await tx.send({ readable: Readable.from([Buffer.from('abc'), Buffer.from('def')]), writable, echo })
      const rx = await to.accept<{ readable: Readable; writable: Writable; echo: PassThrough }>(bounded())
      const m = await rx.receive(bounded())
      let text = ''
      for await (const chunk of m.readable) text += chunk
      expect(text).toBe('abcdef')
      m.writable.end('written remotely')
      await finished
      expect(Buffer.concat(sink).toString()).toBe('written remotely')
      m.echo.end('echo me')
      let echoed = ''
      for await (const chunk of m.echo) echoed += chunk
      expect(echoed).toBe('echo me')
    }
  })

  test('streams', 'web ReadableStream and WritableStream, both ways', async () => {
    await using pair = await ctx.pair()
    for (const [from, to] of [
      [pair.client, pair.server],
      [pair.server, pair.client],
    ] as const) {
      const written: string[] = []
      const encoder = new TextEncoder()
      let closedSink!: () => void
      const sinkClosed = new Promise<void>((resolve) => (closedSink = resolve))
      const tx = from.open<unknown>()
      await tx.send({
        readable: new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(encoder.encode('web '))
            c.enqueue(encoder.encode('bytes'))
            c.close()
          },
        }),
        writable: new WritableStream<Uint8Array>({
          write: (chunk) => void written.push(new TextDecoder().decode(chunk)),
          close: () => closedSink(),
        }),
      })
      const rx = await to.accept<{
        readable: ReadableStream<Uint8Array>
        writable: WritableStream<Uint8Array>
      }>(bounded())
      const m = await rx.receive(bounded())
      let text = ''
      const reader = m.readable.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      expect(text).toBe('web bytes')
      const writer = m.writable.getWriter()
      await writer.write(encoder.encode('to the owner'))
      await writer.close()
      await sinkClosed
      expect(written.join('')).toBe('to the owner')
    }
  })

  for (const direction of ['client to server', 'server to client'] as const) {
    test(
      'streams',
      `100 MB byte stream ${direction} with bounded memory`,
      async () => {
        await using pair = await ctx.pair()
        const [from, to] =
          direction === 'client to server' ? [pair.client, pair.server] : [pair.server, pair.client]
        const total = ctx.scaled(100 * MB)
        const { bytes, peak } = await bigStream(from, to, total)
        expect(bytes).toBe(total)
        expect(peak).toBeLessThan(48 * MB)
      },
      60_000,
    )
  }
}
