import { connect, type PeerInfo, UnauthorizedError } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, outcome, type SuiteContext } from '../internal/harness.ts'

/**
 * The listener's authentication hook (`ListenOptions.authenticate`): it sees the peer as the
 * transport established it, a refused peer gets a clear error on both sides, and the listener
 * carries on serving others.
 */
export function authSuite(ctx: SuiteContext): void {
  const { test } = ctx

  const dial = async (url: URL) => {
    const transport = await ctx.setup.transport()
    return connect(url, {
      transports: transport ? [transport] : [],
      dialOptions: ctx.setup.dialOptions,
      signal: AbortSignal.timeout(5000),
    })
  }

  test('auth', 'authenticate sees the peer, and the accepted session carries that same peer', async () => {
    const seen: PeerInfo[] = []
    await using pair = await ctx.pair({
      authenticate: (peer) => {
        seen.push(peer)
        return true
      },
    })
    expect(seen).toHaveLength(1)
    expect(seen[0]!.transport).toBeTruthy()
    expect(pair.server.peer).toEqual(seen[0])
  })

  test(
    'auth',
    'a refused peer: the dialler gets a clear error, the listener reports it and carries on',
    async () => {
      let calls = 0
      await using fixture = await ctx.listener({ authenticate: () => calls++ > 0 })
      const refused = await outcome(dial(fixture.listener.url))
      expect(refused).toBeInstanceOf(Error)
      expect((refused as Error).message).toMatch(/refus|authenticat|unauthori|401|403/i)
      const reported = fixture.errors.find((error) => error instanceof UnauthorizedError)
      expect(reported, `errors reported: ${fixture.errors.map((e) => e.message).join('; ')}`).toBeDefined()
      expect(reported!.message).toMatch(/refused a connection from/)

      // The next peer is accepted: one refusal does not stop the listener.
      const accepted = fixture.listener.accept(bounded())
      const client = await dial(fixture.listener.url)
      const server = await accepted
      try {
        const tx = client.open<string>()
        await tx.send('after a refusal', bounded())
        const rx = await server.accept<string>(bounded())
        expect(await rx.receive(bounded())).toBe('after a refusal')
      } finally {
        client.abort('test over')
        server.abort('test over')
      }
    },
  )

  test('auth', 'an authenticate check that throws refuses the peer', async () => {
    await using fixture = await ctx.listener({
      authenticate: () => {
        throw new Error('the check itself failed')
      },
    })
    const refused = await outcome(dial(fixture.listener.url))
    expect(refused).toBeInstanceOf(Error)
    expect(fixture.errors.some((error) => error instanceof UnauthorizedError)).toBe(true)
  })
}
