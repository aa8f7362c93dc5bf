import {
  ChannelClosedError,
  listen,
  pipe,
  type Receiver,
  type Sender,
  UnavailableError,
} from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

export function baseSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('base', 'dial and listen', async () => {
    await using pair = await ctx.pair()
    expect(pair.client.peer.transport).toBeTruthy()
    expect(pair.server.peer.transport).toBeTruthy()
    expect(pair.client.codec).toBe(pair.server.codec)
    expect(pair.listener.url).toBeInstanceOf(URL)
  })

  test('base', 'listening on an address in use is an UnavailableError that says so', async () => {
    await using fixture = await ctx.listener()
    const transport = await ctx.setup.transport()
    const error = await listen(fixture.listener.url, {
      transports: transport ? [transport] : [],
      listenOptions: ctx.setup.listenOptions,
    }).then(
      async (second) => {
        await second.close()
        return new Error(`a second listener opened on ${fixture.listener.url.href}`)
      },
      (error: unknown) => error,
    )
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toMatch(/in use/)
    expect((error as Error).message).toContain(fixture.listener.url.protocol)
    // The first listener is unharmed.
    await using pair = await ctx.pair()
    expect(pair.listener.url).toBeInstanceOf(URL)
  })

  test('base', 'the client opens a channel; messages arrive in order', async () => {
    await using pair = await ctx.pair()
    const tx = pair.client.open<{ n: number; text: string }>()
    const count = 1000
    const sending = (async () => {
      for (let n = 0; n < count; n++) await tx.send({ n, text: `message ${n}` })
      await tx.close()
    })()
    const rx = await pair.server.accept<{ n: number; text: string }>(bounded())
    let expected = 0
    for await (const m of rx) {
      expect(m).toEqual({ n: expected, text: `message ${expected}` })
      expected++
    }
    await sending
    expect(expected).toBe(count)
  })

  test('base', 'both sides open channels at once', async () => {
    await using pair = await ctx.pair()
    const a = pair.client.open<string>()
    const b = pair.server.open<string>()
    await Promise.all([a.send('from client'), b.send('from server')])
    const [ra, rb] = await Promise.all([
      pair.server.accept<string>(bounded()),
      pair.client.accept<string>(bounded()),
    ])
    expect(await ra.receive(bounded())).toBe('from client')
    expect(await rb.receive(bounded())).toBe('from server')
  })

  test('base', 'request/response with a return Sender', async () => {
    await using pair = await ctx.pair()
    type Req = { a: number; b: number; reply: Sender<number> }
    const serving = (async () => {
      const rx = await pair.server.accept<Req>(bounded())
      for await (const { a, b, reply } of rx) {
        await reply.send(a + b)
        await reply.close()
      }
    })()
    const tx = pair.client.open<Req>()
    for (let i = 0; i < 50; i++) {
      const [answer, reply] = pipe<number>()
      await tx.send({ a: i, b: 1, reply })
      expect(await answer.receive(bounded())).toBe(i + 1)
      await expect(answer.receive(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
    }
    await tx.close()
    await serving
  })

  test('base', 'plain values of every codec type survive the trip', async () => {
    await using pair = await ctx.pair()
    const value = {
      nil: null,
      yes: true,
      int: -42,
      float: 1.5,
      big: 2n ** 70n,
      text: 'héllo ✓',
      bytes: new Uint8Array([0, 1, 255]),
      list: [1, [2, [3]]],
      date: new Date('2024-01-02T03:04:05.006Z'),
    }
    const tx = pair.client.open<typeof value>()
    await tx.send(value)
    const rx: Receiver<typeof value> = await pair.server.accept(bounded())
    expect(await rx.receive(bounded())).toEqual(value)
  })
}
