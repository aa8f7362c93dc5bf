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
  const frames: Uint8Array[] = []
  for (let i = 0; i < 40; i++) {
    const type = int(10) // 0-9: mostly valid types, some unknown
    const stream = [0, 1, 2, 3, 5, 7, 1000][int(7)]!
    const size = [0, 1, 4, 8, 16, int(300)][int(6)]!
    const payload = new Uint8Array(size)
    for (let j = 0; j < size; j++) payload[j] = int(256)
    // Sometimes a msgpack-looking payload with a reference extension in it.
    if (type === 2 && rand() < 0.3)
      payload.set([0xc7, 5, 1 + int(4), 0, 0, 0, int(12), int(256)].slice(0, size))
    frames.push(encodeFrame(type, stream, payload))
    if (rand() < 0.05) frames.push(new Uint8Array([int(256), int(256), int(256)])) // stray bytes
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
