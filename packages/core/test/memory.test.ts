import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { pipe } from '../src/index.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Heap plus buffers, after a full collection. */
function liveBytes(): number {
  gc()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

const MB = 1024 * 1024

describe('memory stays bounded', () => {
  it('a fast sender and a slow receiver: a million messages, bounded heap', async () => {
    const [rx, tx] = pipe<{ id: number; name: string; ok: boolean }>({ highWaterMark: 64 })
    const total = 1_000_000
    const baseline = liveBytes()
    let peak = 0
    const sender = (async () => {
      for (let id = 0; id < total; id++) await tx.send({ id, name: 'message', ok: true })
      await tx.close()
    })()
    let received = 0
    let lastId = -1
    let outOfOrder = 0
    for await (const message of rx) {
      if (message.id !== lastId + 1) outOfOrder++
      lastId = message.id
      received++
      if (received % 1000 === 0) await new Promise((r) => setImmediate(r)) // the slow part
      if (received % 100_000 === 0) peak = Math.max(peak, liveBytes() - baseline)
    }
    await sender
    expect(received).toBe(total)
    expect(outOfOrder).toBe(0)
    // 64 buffered small objects are a few KB; allow generous slack for the test runner itself.
    expect(peak).toBeLessThan(16 * MB)
  })

  it('a 100 MB byte stream inside a message flows through with constant memory', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7)
    const chunks = (100 * MB) / chunk.length
    let produced = 0
    const source = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (produced === chunks) return this.push(null)
        produced++
        this.push(Buffer.from(chunk))
      },
    })
    const [rx, tx] = pipe<{ name: string; body: Readable }>()
    await tx.send({ name: 'big.bin', body: source })
    await tx.close()

    const baseline = liveBytes()
    let peak = 0
    let bytes = 0
    const message = await rx.receive({ signal: AbortSignal.timeout(2000) })
    await pipeline(
      message.body,
      new Writable({
        highWaterMark: 64 * 1024,
        write(data: Buffer, _encoding, callback) {
          bytes += data.length
          if (bytes % (10 * MB) === 0) peak = Math.max(peak, liveBytes() - baseline)
          setImmediate(callback) // a consumer slower than the producer
        },
      }),
    )
    expect(bytes).toBe(100 * MB)
    expect(peak).toBeLessThan(16 * MB)
  })
})
