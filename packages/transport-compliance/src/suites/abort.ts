import { ChannelAbortedError, ChannelClosedError, SessionClosedError } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, outcome, type SuiteContext } from '../internal/harness.ts'

export function abortSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('abort', 'aborting a channel reaches its receiver with the reason; others carry on', async () => {
    await using pair = await ctx.pair()
    const doomed = pair.client.open<number>()
    const fine = pair.client.open<number>()
    await doomed.send(1)
    doomed.abort('disk on fire')
    const rx = await pair.server.accept<number>(bounded())
    const other = await pair.server.accept<number>(bounded())
    expect(await rx.receive(bounded())).toBe(1)
    const error = await rx.receive(bounded()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect(String((error as Error).message)).toContain('disk on fire')
    await fine.send(2)
    expect(await other.receive(bounded())).toBe(2)
  })

  test('abort', 'a receiver that cancels makes the sender fail', async () => {
    await using pair = await ctx.pair()
    const tx = pair.client.open<number>()
    await tx.send(1)
    const rx = await pair.server.accept<number>(bounded())
    rx.cancel()
    await Promise.race([
      tx.closed,
      new Promise((_, reject) => setTimeout(reject, 2000, new Error('not closed'))),
    ])
    await expect(tx.send(2)).rejects.toBeInstanceOf(ChannelClosedError)
  })

  test('abort', 'aborting the session rejects every pending call on both sides', async () => {
    await using pair = await ctx.pair()
    const tx = pair.client.open<number>()
    const rx = await pair.server.accept<number>(bounded())
    const serverWaits = outcome(rx.receive())
    const serverAccepts = outcome(pair.server.accept())
    const back = pair.server.open<number>()
    const crx = await pair.client.accept<number>(bounded())
    const clientWaits = outcome(crx.receive())
    pair.client.abort('shutting down')
    expect(await clientWaits).toBeInstanceOf(SessionClosedError)
    expect(await serverWaits).toBeInstanceOf(SessionClosedError)
    expect(await serverAccepts).toBeInstanceOf(Error)
    expect(await pair.client.closed).toBeInstanceOf(SessionClosedError)
    expect(await pair.server.closed).toBeInstanceOf(Error)
    await expect(tx.send(1)).rejects.toBeInstanceOf(SessionClosedError)
    void back
  })
}
