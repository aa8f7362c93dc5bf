import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

export function backpressureSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('backpressure', 'a stalled channel does not stall another, and its sender waits', async () => {
    await using pair = await ctx.pair({ serverLimits: { streamWindow: 64 * 1024 } })
    const stalled = pair.client.open<Uint8Array>()
    const flowing = pair.client.open<number>()
    const stalledRx = await pair.server.accept<Uint8Array>(bounded())
    const flowingRx = await pair.server.accept<number>(bounded())
    // Fill the stalled channel until a send waits (nobody reads it).
    let accepted = 0
    let waiting: Promise<void> | undefined
    for (let i = 0; i < 10_000; i++) {
      const sending = stalled.send(new Uint8Array(1024))
      const settled = await Promise.race([
        sending.then(() => true),
        new Promise((r) => setTimeout(r, 50, false)),
      ])
      if (!settled) {
        waiting = sending
        break
      }
      accepted++
    }
    expect(waiting, 'a send on a full channel must wait').toBeDefined()
    // The window is 64 KiB of 1 KiB messages: bounded, whatever the sender tries.
    expect(accepted).toBeLessThan(200)
    // The other channel flows freely meanwhile.
    const count = 5000
    const sending = (async () => {
      for (let n = 0; n < count; n++) await flowing.send(n)
      await flowing.close()
    })()
    let received = 0
    for await (const n of flowingRx) {
      expect(n).toBe(received)
      received++
    }
    await sending
    expect(received).toBe(count)
    // Reading the stalled channel releases the waiting send.
    for (let i = 0; i <= accepted; i++) await stalledRx.receive(bounded())
    await waiting
  })

  test('backpressure', 'a slow byte-stream consumer does not stall a channel', async () => {
    await using pair = await ctx.pair({ serverLimits: { streamWindow: 64 * 1024 } })
    const { Readable } = await import('node:stream')
    let produced = 0
    const endless = new Readable({
      read() {
        produced += 16 * 1024
        this.push(Buffer.alloc(16 * 1024))
      },
    })
    const tx = pair.client.open<unknown>()
    await tx.send({ body: endless })
    const rx = await pair.server.accept<{ body: InstanceType<typeof Readable> }>(bounded())
    const { body } = await rx.receive(bounded())
    void body // never read
    const other = pair.client.open<string>()
    await other.send('still moving')
    const orx = await pair.server.accept<string>(bounded())
    expect(await orx.receive(bounded())).toBe('still moving')
    await new Promise((r) => setTimeout(r, 100))
    // The producer is held back by the window, not buffered without bound.
    expect(produced).toBeLessThan(2 * 1024 * 1024)
    endless.destroy()
  })
}
