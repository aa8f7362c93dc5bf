import { ChannelClosedError, pipe, type Sender, SessionClosedError } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

export function closeSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('close', 'a graceful close loses nothing', async () => {
    await using pair = await ctx.pair()
    const channels = 3
    const count = ctx.scaled(5000)
    const receiving = Promise.all(
      Array.from({ length: channels }, async () => {
        const rx = await pair.server.accept<number>(bounded())
        let n = 0
        for await (const value of rx) {
          expect(value).toBe(n)
          n++
        }
        return n
      }),
    )
    const senders = Array.from({ length: channels }, () => pair.client.open<number>())
    await Promise.all(
      senders.map(async (tx) => {
        for (let n = 0; n < count; n++) await tx.send(n)
      }),
    )
    // close() closes the channels this side opened, after everything sent on them.
    await pair.client.close()
    expect(await receiving).toEqual([count, count, count])
    expect(await pair.client.closed).toBeUndefined()
  })

  test('close', 'close refuses new channels but lets a request in flight finish', async () => {
    await using pair = await ctx.pair()
    type Req = { reply: Sender<string> }
    const tx = pair.client.open<Req>()
    const [answer, reply] = pipe<string>()
    await tx.send({ reply })
    const closing = pair.client.close()
    expect(() => pair.client.open()).toThrow(SessionClosedError)
    const rx = await pair.server.accept<Req>(bounded())
    const req = await rx.receive(bounded())
    await new Promise((r) => setTimeout(r, 50))
    await req.reply.send('late but delivered')
    await req.reply.close()
    expect(await answer.receive(bounded())).toBe('late but delivered')
    await closing
    await expect(pair.server.accept(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
  })

  test('close', 'the session is an async iterable of channels that ends on close', async () => {
    await using pair = await ctx.pair()
    for (let i = 0; i < 3; i++) await pair.client.open<number>().send(i)
    const got: number[] = []
    const iterating = (async () => {
      for await (const rx of pair.server) got.push((await rx.receive(bounded())) as number)
    })()
    await new Promise((r) => setTimeout(r, 50))
    await pair.client.close()
    await iterating
    expect(got.sort()).toEqual([0, 1, 2])
  })
}
