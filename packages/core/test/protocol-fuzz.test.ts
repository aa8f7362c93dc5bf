import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createSession, encodeFrame, LibswarmError, linkPair } from '../src/index.ts'
import { parseVector } from './protocol-vectors.ts'

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const clientHello = parseVector(
  readFileSync(fileURLToPath(new URL('../../../docs/protocol/handshake.hex', import.meta.url)), 'utf8'),
).client!

function randomFrames(rand: () => number): Uint8Array[] {
  const int = (n: number) => Math.floor(rand() * n)
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256))
  // Mostly well-formed frames (so decoding, references and flow control run), sometimes not.
  const frames: Uint8Array[] = [encodeFrame(1, 1, new Uint8Array([1]))]
  let i = 0
  const msgpackish = () => {
    const pick = int(6)
    if (pick === 0) return new Uint8Array([0xa2, 0x68, 0x69]) // "hi"
    if (pick === 1)
      return new Uint8Array([
        0x81,
        0xa1,
        0x78,
        0xc7,
        5,
        1 + int(4),
        0,
        0,
        0,
        rand() < 0.9 ? 101 + 2 * i++ : int(12),
        int(4),
      ]) // {x: ref}
    if (pick === 2) return new Uint8Array([0x92, 0xc3, 0xd6, 0xff, ...bytes(4)]) // [true, timestamp]
    if (pick === 3) return new Uint8Array([0xc7, 2, 5, ...bytes(2)]) // bigint
    return bytes(1 + int(40))
  }
  for (let n = 0; n < 60; n++) {
    const roll = rand()
    if (roll < 0.5) frames.push(encodeFrame(2, 1, msgpackish()))
    else if (roll < 0.6)
      frames.push(encodeFrame(5, rand() < 0.9 ? 0 : 1, new Uint8Array([0, 0, 1 + int(200), int(256)])))
    else if (roll < 0.7) frames.push(encodeFrame(6, 0, bytes(8)))
    else if (roll < 0.75) frames.push(encodeFrame(1, 101 + 2 * i++, new Uint8Array([1])))
    else if (roll < 0.8)
      frames.push(
        encodeFrame([3, 4][int(2)]!, [1, 3, 5][int(3)]!, int(2) ? new Uint8Array(0) : bytes(4 + int(8))),
      )
    else if (roll < 0.97) frames.push(encodeFrame(2, 101 + 2 * int(Math.max(1, i)), msgpackish()))
    else frames.push(encodeFrame(int(12), [0, 1, 2, 1000][int(4)]!, bytes(int(20))))
  }
  return frames
}

describe('fuzzing a server session with random frames', () => {
  it('never throws out of the session: it carries on or ends with a typed error', async () => {
    const escaped: unknown[] = []
    const onError = (error: unknown) => escaped.push(error)
    process.on('uncaughtException', onError)
    process.on('unhandledRejection', onError)
    try {
      for (let seed = 1; seed <= 200; seed++) {
        const [raw, serverLink] = linkPair()
        raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
        raw.write(clientHello)
        const server = await createSession(serverLink, { role: 'server', limits: { idleTimeout: 0 } })
        // Take whatever channels open, and read them, so decode paths run too.
        void (async () => {
          for await (const rx of server)
            void (async () => {
              for await (const _ of rx) {
              }
            })().catch(() => {})
        })().catch(() => {})
        for (const frame of randomFrames(random(seed))) raw.write(frame)
        await new Promise((r) => setTimeout(r, 2))
        const result = await Promise.race([server.closed, Promise.resolve('open')])
        if (result !== 'open') expect(result, `seed ${seed}`).toBeInstanceOf(LibswarmError)
        server.abort('next seed')
      }
      await new Promise((r) => setTimeout(r, 20))
      expect(escaped).toEqual([])
    } finally {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
    }
  })
})
