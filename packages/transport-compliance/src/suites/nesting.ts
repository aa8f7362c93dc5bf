import { pipe, type Receiver, type Sender } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

export function nestingSuite(ctx: SuiteContext): void {
  const { test } = ctx
  for (const direction of ['client to server', 'server to client'] as const) {
    test('nesting', `Senders and Receivers three levels deep, ${direction}`, async () => {
      await using pair = await ctx.pair()
      const [from, to] =
        direction === 'client to server' ? [pair.client, pair.server] : [pair.server, pair.client]
      const [downRx, downTx] = pipe<string>()
      const [upRx, upTx] = pipe<string>()
      type Msg = { level1: { level2: { level3: [Receiver<string>, Sender<string>] } } }
      const tx = from.open<Msg>()
      await tx.send({ level1: { level2: { level3: [downRx, upTx] } } })
      const rx = await to.accept<Msg>(bounded())
      const [remoteRx, remoteTx] = (await rx.receive(bounded())).level1.level2.level3
      await downTx.send('down')
      expect(await remoteRx.receive(bounded())).toBe('down')
      await remoteTx.send('up')
      expect(await upRx.receive(bounded())).toBe('up')
      // A channel inside a message inside a nested channel.
      const [innerRx, innerTx] = pipe<number>()
      await downTx.send('next')
      expect(await remoteRx.receive(bounded())).toBe('next')
      await (remoteTx as unknown as Sender<unknown>).send({ back: innerTx })
      const got = (await upRx.receive(bounded())) as unknown as { back: Sender<number> }
      await remoteTx.close()
      await got.back.send(7)
      expect(await innerRx.receive(bounded())).toBe(7)
    })
  }

  test('nesting', 'the same end sent twice, and an end sent back to its origin', async () => {
    await using pair = await ctx.pair()
    const [targetRx, target] = pipe<string>()
    const tx = pair.client.open<{ to: Sender<string> }>()
    await tx.send({ to: target })
    await tx.send({ to: target })
    const rx = await pair.server.accept<{ to: Sender<string> }>(bounded())
    const first = (await rx.receive(bounded())).to
    const second = (await rx.receive(bounded())).to
    await first.send('one')
    await second.send('two')
    expect(await targetRx.receive(bounded())).toBe('one')
    expect(await targetRx.receive(bounded())).toBe('two')
    const back = pair.server.open<{ to: Sender<string> }>()
    await back.send({ to: first })
    const brx = await pair.client.accept<{ to: Sender<string> }>(bounded())
    expect((await brx.receive(bounded())).to).toBe(target)
  })

  test('nesting', 'a chain of request/response over a nested reply channel of a nested channel', async () => {
    await using pair = await ctx.pair()
    type Inner = { n: number; reply: Sender<number> }
    type Outer = { service: Sender<Inner> }
    // The server hands the client a service channel; the client calls it with its own reply channels.
    const [serviceRx, serviceTx] = pipe<Inner>()
    const serving = (async () => {
      for await (const { n, reply } of serviceRx) {
        await reply.send(n * n)
        await reply.close()
      }
    })()
    const out = pair.server.open<Outer>()
    await out.send({ service: serviceTx })
    const rx = await pair.client.accept<Outer>(bounded())
    const { service } = await rx.receive(bounded())
    for (const n of [2, 3, 4]) {
      const [answer, reply] = pipe<number>()
      await service.send({ n, reply })
      expect(await answer.receive(bounded())).toBe(n * n)
    }
    await service.close()
    await serving
  })
}
