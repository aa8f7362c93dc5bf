import { createSession, LibswarmError, LimitExceededError } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'
import { rawHandshake } from '../internal/raw.ts'

export function limitsSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test('limits', 'a message over maxMessageSize fails that send; the session carries on', async () => {
    await using pair = await ctx.pair({ serverLimits: { maxMessageSize: 64 * 1024 } })
    const tx = pair.client.open<unknown>()
    const error = await tx.send({ blob: new Uint8Array(100 * 1024) }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LimitExceededError)
    expect((error as LimitExceededError).limit).toBe('maxMessageSize')
    await tx.send('small is fine')
    const rx = await pair.server.accept(bounded())
    expect(await rx.receive(bounded())).toBe('small is fine')
  })

  test('limits', 'channels over maxStreams are refused with LimitExceededError', async () => {
    await using pair = await ctx.pair({ serverLimits: { maxStreams: 4 } })
    const senders = Array.from({ length: 8 }, () => pair.client.open<number>())
    for (const [i, tx] of senders.entries()) await tx.send(i).catch(() => {})
    const accepted = []
    for (let i = 0; i < 4; i++) accepted.push(await pair.server.accept<number>(bounded()))
    // The refused ones end; their next send says why.
    const refused = senders.slice(4)
    for (const tx of refused) await tx.closed
    for (const tx of refused) await expect(tx.send(1)).rejects.toBeInstanceOf(LimitExceededError)
    for (const [i, rx] of accepted.entries()) expect(await rx.receive(bounded())).toBe(i)
  })

  test('limits', 'handshakeTimeout ends a connection that never says hello', async () => {
    await using fixture = await ctx.listener({ serverLimits: { handshakeTimeout: 200 } })
    const raw = await rawHandshake(await ctx.rawLink(fixture.listener.url), { hello: false })
    expect(await raw.ended(3000)).toBe(true)
    expect(
      fixture.errors.some((e) => e instanceof LimitExceededError && e.limit === 'handshakeTimeout'),
    ).toBe(true)
  })

  test('limits', 'a peer that hung up before the session started is reported at once', async () => {
    // The server gives up on a silent client after 200 ms and closes the connection. The client's
    // link only starts after that (as when a TLS 1.3 server refuses a client certificate right
    // after the handshake): the end that came first must still reach the session.
    await using fixture = await ctx.listener({ serverLimits: { handshakeTimeout: 200 } })
    const link = await ctx.rawLink(fixture.listener.url)
    await new Promise((resolve) => setTimeout(resolve, 800))
    const started = Date.now()
    const outcome = await createSession(link, {
      role: 'client',
      limits: { handshakeTimeout: 20_000 },
    }).then(
      (session) => {
        session.abort('test over')
        return new Error('the handshake succeeded with a peer that had hung up')
      },
      (error: unknown) => error,
    )
    expect(outcome).toBeInstanceOf(LibswarmError)
    expect(outcome).not.toBeInstanceOf(LimitExceededError)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  test('limits', 'idleTimeout ends a session whose peer went silent', async () => {
    await using fixture = await ctx.listener({ serverLimits: { idleTimeout: 300 } })
    const accepted = fixture.listener.accept(bounded())
    const raw = await rawHandshake(await ctx.rawLink(fixture.listener.url))
    const server = await accepted
    const closedWith = await Promise.race([
      server.closed,
      new Promise((r) => setTimeout(r, 3000, 'still open')),
    ])
    expect(closedWith).toBeInstanceOf(LimitExceededError)
    expect((closedWith as LimitExceededError).limit).toBe('idleTimeout')
    raw.link.destroy()
  })
}
