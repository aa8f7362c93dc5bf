import {
  encodeFrame,
  FrameType,
  type LibswarmError,
  ProtocolError,
  type Session,
  SessionClosedError,
} from '@libswarm/core'
import { expect } from 'vitest'
import { bounded, outcome, type SuiteContext } from '../internal/harness.ts'
import { rawHandshake } from '../internal/raw.ts'

const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const bytes = (...parts: (number[] | Uint8Array)[]) => {
  const out: number[] = []
  for (const part of parts) out.push(...part)
  return new Uint8Array(out)
}
/** OPEN of client stream 1 (a channel). */
const open1 = encodeFrame(FrameType.Open, 1, new Uint8Array([1]))

const cases: {
  name: string
  bytes: Uint8Array
  end?: boolean
  error?: abstract new (...args: never[]) => LibswarmError
}[] = [
  {
    name: 'garbage after the handshake',
    bytes: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  },
  {
    name: 'a lying length (larger than any frame may be)',
    bytes: bytes(u32(0x7fffffff), [2, 0], u32(1), [1, 2, 3]),
  },
  { name: 'an unknown frame type', bytes: bytes(u32(1), [0x63, 0], u32(1), [0]) },
  {
    name: 'a truncated frame, then the end',
    bytes: bytes(open1, u32(100), [2, 0], u32(1), [1, 2, 3]),
    end: true,
    // Valid as far as it went: a peer that went away mid-send, so a lost connection.
    error: SessionClosedError,
  },
  {
    name: 'DATA on a stream that does not exist',
    bytes: encodeFrame(FrameType.Data, 7, new Uint8Array([0xc0])),
  },
  {
    name: 'a reference to a stream that does not exist',
    // msgpack ext8 of type 1 (a Sender) naming server stream 2, which the server never created.
    bytes: bytes(open1, encodeFrame(FrameType.Data, 1, new Uint8Array([0xc7, 5, 1, ...u32(2), 0]))),
  },
  {
    name: 'frames after END',
    bytes: bytes(
      open1,
      encodeFrame(FrameType.End, 1),
      encodeFrame(FrameType.Data, 1, new Uint8Array([0xc0])),
    ),
  },
  { name: 'a malformed CREDIT frame', bytes: encodeFrame(FrameType.Credit, 0, new Uint8Array([0, 0, 0, 0])) },
]

export function badBytesSuite(ctx: SuiteContext): void {
  const { test } = ctx
  for (const c of cases) {
    test('bad-bytes', c.name, async () => {
      await using fixture = await ctx.listener()
      const accepted = fixture.listener.accept(bounded())
      const raw = await rawHandshake(await ctx.rawLink(fixture.listener.url))
      const server: Session = await accepted
      // The server waits for a channel (or on the channel the bad bytes opened): it must reject promptly.
      const pending = outcome(server.accept().then((rx) => rx.receive()))
      raw.link.write(c.bytes)
      if (c.end) raw.link.end()
      const closedWith = await Promise.race([
        server.closed,
        new Promise((r) => setTimeout(r, 2000, 'still open')),
      ])
      expect(closedWith).toBeInstanceOf(c.error ?? ProtocolError)
      expect(await pending).toBeInstanceOf(Error)
      raw.link.destroy()
      // The listener keeps serving other sessions.
      const { connect } = await import('@libswarm/core')
      const next = fixture.listener.accept(bounded())
      const client = await connect(fixture.listener.url, {
        transports: fixture.transport ? [fixture.transport] : [],
        dialOptions: ctx.setup.dialOptions,
      })
      const tx = client.open<string>()
      await tx.send('still serving')
      const rx = await (await next).accept<string>(bounded())
      expect(await rx.receive(bounded())).toBe('still serving')
      client.abort('done')
    })
  }
}
