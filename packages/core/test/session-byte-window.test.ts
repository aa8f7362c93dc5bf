import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { bounded, pairSessions } from './session-helpers.ts'

/** Sends an endless byte stream nobody reads; resolves with how many bytes the source gave up. */
async function inFlight(limits: { streamWindow?: number; byteStreamWindow?: number }): Promise<number> {
  const [client, server] = await pairSessions({}, { limits })
  let produced = 0
  const endless = new Readable({
    highWaterMark: 16 * 1024,
    read() {
      produced += 16 * 1024
      this.push(Buffer.alloc(16 * 1024))
    },
  })
  const tx = client.open<unknown>()
  await tx.send({ body: endless })
  const rx = await server.accept<{ body: Readable }>(bounded())
  const { body } = await rx.receive(bounded())
  void body // never read
  await new Promise((resolve) => setTimeout(resolve, 200))
  endless.destroy()
  client.abort('done')
  server.abort('done')
  return produced
}

describe('byte stream window', () => {
  it('the receiver widens a byte stream to byteStreamWindow, and holds the sender there', async () => {
    const produced = await inFlight({ streamWindow: 64 * 1024, byteStreamWindow: 1024 * 1024 })
    expect(produced).toBeGreaterThanOrEqual(1024 * 1024)
    expect(produced).toBeLessThan(1024 * 1024 + 256 * 1024)
  })

  it('defaults to 4 x streamWindow when only streamWindow is set', async () => {
    const produced = await inFlight({ streamWindow: 64 * 1024 })
    expect(produced).toBeGreaterThanOrEqual(256 * 1024)
    expect(produced).toBeLessThan(256 * 1024 + 256 * 1024)
  })

  it('is never narrower than streamWindow', async () => {
    const produced = await inFlight({ streamWindow: 512 * 1024, byteStreamWindow: 64 * 1024 })
    expect(produced).toBeGreaterThanOrEqual(512 * 1024)
    expect(produced).toBeLessThan(512 * 1024 + 256 * 1024)
  })
})
