import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createSession, type Link, type LinkHandlers, linkPair, type Receiver } from '../src/index.ts'
import { bounded, tcpSessions } from './session-helpers.ts'

/**
 * A link whose every write reports "buffer full" (it still delivers the bytes), with `drain` only on
 * the next macrotask: the session is always waiting for drain when it decides to close.
 */
function alwaysBlocked(link: Link): Link {
  let handlers: LinkHandlers | undefined
  const blocked = () => {
    setImmediate(() => handlers?.drain())
    return false
  }
  return {
    peer: link.peer,
    start(h) {
      handlers = h
      link.start({ ...h, drain: () => {} })
    },
    write: (chunk) => {
      link.write(chunk)
      return blocked()
    },
    writev: (chunks) => {
      for (const chunk of chunks) link.write(chunk)
      return blocked()
    },
    end: () => link.end(),
    destroy: (error) => link.destroy(error),
  }
}

type Body = { ch: number; seq: number; body?: Readable }

function body(size: number): Readable {
  let left = size
  return new Readable({
    read() {
      const n = Math.min(left, 16_384)
      left -= n
      this.push(n > 0 ? Buffer.alloc(n, 7) : null)
    },
  })
}

/** Sends 3 channels x 3 byte streams, closes the client session at once, and reads it all slowly. */
async function sendThenClose(client: Awaited<ReturnType<typeof createSession>>, server: typeof client) {
  const reading = (async () => {
    const totals: string[] = []
    const channels: Promise<void>[] = []
    for (let c = 0; c < 3; c++) {
      const rx = await server.accept<Body>(bounded(5000))
      channels.push(
        (async () => {
          for await (const message of rx as Receiver<Body>) {
            if (!message.body) continue
            let got = 0
            for await (const chunk of message.body) {
              got += (chunk as Buffer).length
              await new Promise((r) => setImmediate(r)) // a slow consumer
            }
            totals.push(`${message.ch}/${message.seq}:${got}`)
          }
        })(),
      )
    }
    await Promise.all(channels)
    return totals.sort()
  })()
  await Promise.all(
    [0, 1, 2].map(async (ch) => {
      const tx = client.open<Body>()
      for (let seq = 0; seq < 30; seq++)
        await tx.send(seq % 10 === 0 ? { ch, seq, body: body(100_000) } : { ch, seq })
      await tx.close()
    }),
  )
  await client.close() // graceful, while the server has not read the bodies yet
  return reading
}

const expected = [0, 1, 2].flatMap((ch) => [0, 10, 20].map((seq) => `${ch}/${seq}:100000`)).sort()

describe('a graceful close while the link is waiting for drain', () => {
  it('still sends every queued frame (the END of each byte stream) before ending the link', async () => {
    const [a, b] = linkPair()
    const [client, server] = await Promise.all([
      createSession(alwaysBlocked(a), { role: 'client' }),
      createSession(b, { role: 'server' }),
    ])
    expect(await sendThenClose(client, server)).toEqual(expected)
  })

  it('over TCP, byte streams still in flight at close arrive whole', async () => {
    const [client, server, tcp] = await tcpSessions()
    try {
      expect(await sendThenClose(client, server)).toEqual(expected)
    } finally {
      tcp.close()
    }
  })
})
