import { pipe, type Sender } from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, type SuiteContext } from '../internal/harness.ts'

export function scaleSuite(ctx: SuiteContext): void {
  const { test } = ctx
  test(
    'scale',
    '10 000 concurrent channels on one session',
    async () => {
      await using pair = await ctx.pair()
      const count = ctx.scaled(10_000)
      type Req = { i: number; reply: Sender<number> }
      const serving = (async () => {
        const handlers: Promise<void>[] = []
        for (let i = 0; i < count; i++) {
          const rx = await pair.server.accept<Req>(bounded(20_000))
          handlers.push(
            (async () => {
              const { i: n, reply } = await rx.receive(bounded(20_000))
              await reply.send(n * 2)
              await reply.close()
            })(),
          )
        }
        await Promise.all(handlers)
      })()
      // All channels open at once, each with a request in flight.
      const senders = Array.from({ length: count }, () => pair.client.open<Req>())
      const answers = await Promise.all(
        senders.map(async (tx, i) => {
          const [answer, reply] = pipe<number>()
          await tx.send({ i, reply })
          return answer.receive(bounded(20_000))
        }),
      )
      await serving
      expect(answers.every((a, i) => a === i * 2)).toBe(true)
      await Promise.all(senders.map((tx) => tx.close()))
    },
    60_000,
  )
}
