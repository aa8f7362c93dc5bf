import { Client, connect, type Message, Server, type Service } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { describe, expect, it } from 'vitest'
import { serve } from '../src/internal/listen.ts'
import { Logger } from '../src/internal/log.ts'

describe('swarmd --listen', () => {
  it('hands the pipeline head each message with the session peer, so handlers see the caller', async () => {
    const head = new Server({ onGet: (_args, context) => context.peer ?? null })
    const served = await serve('tcp://127.0.0.1:0', head, { logger: new Logger({ write: () => {} }, 'text') })
    const session = await connect(served.url, { transports: [tcp()], signal: AbortSignal.timeout(5000) })
    try {
      const remote = session.open<Message>() as unknown as Service
      const peer = (await new Client(remote, { timeout: 5000 }).get()) as {
        transport?: string
        address?: string
      }
      expect(peer).toMatchObject({ transport: 'tcp' })
      expect(peer.address).toMatch(/^127\.0\.0\.1:\d+$/)
    } finally {
      session.abort('test over')
      await served.close()
      await head.close()
    }
  })
})
