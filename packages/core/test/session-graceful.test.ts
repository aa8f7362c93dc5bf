import { describe, expect, it } from 'vitest'
import { ChannelClosedError } from '../src/index.ts'
import { bounded, pairSessions, tcpSessions } from './session-helpers.ts'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a graceful close loses nothing', () => {
  it.each([
    ['an in-memory link', () => pairSessions()],
    [
      'a TCP connection',
      async () => (await tcpSessions()).slice(0, 2) as Awaited<ReturnType<typeof pairSessions>>,
    ],
  ])(
    'over %s, channels the peer opened and ended before its close are still acceptable and drainable by a slow acceptor',
    async (_name, make) => {
      const [client, server] = await make()
      for (let c = 0; c < 5; c++) {
        const tx = client.open<number>()
        for (let i = 0; i < 20; i++) await tx.send(c * 100 + i)
        await tx.close()
      }
      await client.close()
      // The slow acceptor: the peer's close has gone all the way through before it looks.
      expect(await Promise.race([server.closed, delay(2000).then(() => 'still open')])).toBeUndefined()
      const got: number[][] = []
      for (let c = 0; c < 5; c++) {
        const rx = await server.accept<number>(bounded())
        const values: number[] = []
        for await (const value of rx) values.push(value)
        got.push(values)
      }
      expect(got).toEqual(
        Array.from({ length: 5 }, (_, c) => Array.from({ length: 20 }, (_, i) => c * 100 + i)),
      )
      await expect(server.accept(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
    },
  )

  it('a channel the slow acceptor takes after the close still ends cleanly (not with a session error)', async () => {
    const [client, server] = await pairSessions()
    const tx = client.open<string>()
    await tx.send('only')
    await tx.close()
    await client.close()
    await server.closed
    const rx = await server.accept<string>(bounded())
    expect(await rx.receive(bounded())).toBe('only')
    await expect(rx.receive(bounded())).rejects.toBeInstanceOf(ChannelClosedError)
  })
})

describe('a graceful close with more than a window in flight', () => {
  it('waits for the slow acceptor and delivers everything', async () => {
    const [client, server] = await pairSessions()
    const tx = client.open<Uint8Array>()
    const chunk = new Uint8Array(64 * 1024).fill(7)
    const sent = (async () => {
      for (let i = 0; i < 16; i++) await tx.send(chunk) // 1 MiB: four stream windows
      await tx.close()
      await client.close()
    })()
    await delay(300)
    const rx = await server.accept<Uint8Array>(bounded())
    let bytes = 0
    for await (const value of rx) bytes += value.byteLength
    await sent
    expect(bytes).toBe(16 * chunk.byteLength)
    expect(await server.closed).toBeUndefined()
  })
})
