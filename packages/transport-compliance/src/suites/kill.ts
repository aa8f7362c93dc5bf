import { Readable } from 'node:stream'
import { SessionClosedError } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, outcome, type SuiteContext } from '../internal/harness.ts'

export function killSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('kill', 'a peer killed mid-stream: pending calls reject within a second', async () => {
    await using pair = await ctx.pair({ rawClient: true })
    // A byte stream in flight, a receive waiting on each side, a send waiting for credit.
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(16 * 1024))
      },
    })
    const tx = pair.client.open<unknown>()
    await tx.send({ body: endless })
    const rx = await pair.server.accept<{ body: Readable }>(bounded())
    const { body } = (await rx.receive(bounded())) as { body: Readable }
    const bodyFailed = new Promise<unknown>((resolve) => {
      body.on('error', resolve)
      body.on('close', () => resolve('closed'))
      body.resume()
    })
    const serverWaits = outcome(rx.receive())
    const back = pair.server.open<number>()
    const crx = await pair.client.accept<number>(bounded())
    const clientWaits = outcome(crx.receive())
    await new Promise((r) => setTimeout(r, 50))
    const start = Date.now()
    pair.clientLink!.destroy()
    expect(await serverWaits).toBeInstanceOf(SessionClosedError)
    expect(await clientWaits).toBeInstanceOf(SessionClosedError)
    await bodyFailed
    expect(Date.now() - start).toBeLessThan(1000)
    expect(await pair.server.closed).toBeInstanceOf(SessionClosedError)
    await expect(back.send(1)).rejects.toBeInstanceOf(SessionClosedError)
    endless.destroy()
  })
}
