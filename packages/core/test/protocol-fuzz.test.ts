import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createSession,
  DecodeError,
  encodeFrame,
  LibswarmError,
  LimitExceededError,
  linkPair,
  msgpackCodec,
  ProtocolError,
  type Session,
  SessionClosedError,
} from '../src/index.ts'
import { fuzzRuns, fuzzSeed, fuzzTimeout, report } from './fuzz-runs.ts'
import { parseVector } from './protocol-vectors.ts'
import { bounded, pairSessions } from './session-helpers.ts'

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

const SEEDED = Math.min(fuzzRuns(200), 5000)
const RUNS = fuzzRuns(400)

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
      for (let seed = 1; seed <= SEEDED; seed++) {
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
      report('session decoder, seeded random frame streams', SEEDED)
    } finally {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
    }
  })
})

// ------------------------------------------------------------------ fast-check properties

const MAX_MESSAGE = 64 * 1024
const encodeValue = (value: unknown) => msgpackCodec().create().encode(value)
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
const header = (length: number, type: number, id: number) =>
  Uint8Array.from([...u32(length), type, 0, ...u32(id)])

/** Stream ids a hostile client uses: its own (odd, open or not), the server's (even), 0, huge. */
const anyId = fc.oneof(
  fc.integer({ min: 0, max: 12 }).map((n) => 2 * n + 1),
  fc.integer({ min: 0, max: 12 }).map((n) => 2 * n),
  fc.constantFrom(0, 0x7fffffff, 0xffffffff),
)
/** A message payload: a plain value, one holding references (to streams that may not exist), or junk. */
const payload = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map(encodeValue),
  fc
    .tuple(fc.integer({ min: 0, max: 6 }), anyId, fc.integer({ min: 0, max: 255 }))
    .map(([kind, id, flags]) => Uint8Array.from([0x91, 0xc7, 5, kind, ...u32(id), flags])),
  fc.uint8Array({ maxLength: 64 }),
)
const goodFrame = fc.oneof(
  { weight: 3, arbitrary: anyId.map((id) => encodeFrame(1, id, new Uint8Array([1]))) },
  { weight: 2, arbitrary: fc.tuple(anyId, payload).map(([id, p]) => encodeFrame(2, id, p)) },
  // Mostly messages on the channels the conversation opened first, so decoding and references run.
  {
    weight: 12,
    arbitrary: fc.tuple(fc.constantFrom(1, 3, 5), payload).map(([id, p]) => encodeFrame(2, id, p)),
  },
  { weight: 1, arbitrary: anyId.map((id) => encodeFrame(3, id)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(anyId, fc.nat({ max: 9 }))
      .map(([id, code]) => encodeFrame(4, id, Uint8Array.from([...u32(code), 0x78]))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(0, 1, 3), fc.integer({ min: 0, max: 0xffffffff }))
      .map(([id, n]) => encodeFrame(5, id, Uint8Array.from(u32(n)))),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ minLength: 8, maxLength: 8 })
      .map((p) => encodeFrame(fc.sample(fc.constantFrom(6, 7), 1)[0]!, 0, p)),
  },
  // GOAWAY: graceful (then more frames: frames after close) or not.
  {
    weight: 1,
    arbitrary: fc
      .nat({ max: 9 })
      .map((code) => encodeFrame(8, 0, Uint8Array.from([...u32(code), 0x62, 0x79]))),
  },
)
const badFrame = fc.oneof(
  // A valid frame with some bytes changed.
  fc
    .tuple(
      goodFrame,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([frame, edits]) => {
      const out = frame.slice()
      for (const [at, byte] of edits) out[at % out.length] = byte
      return out
    }),
  // Lying lengths: a header promising more (or fewer) bytes than follow.
  fc
    .tuple(
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 1, max: 9 }),
      anyId,
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([length, type, id, body]) => Uint8Array.from([...header(length, type, id), ...body])),
  // Huge declared sizes: up to 4 GiB, over a few bytes.
  fc
    .tuple(fc.integer({ min: MAX_MESSAGE + 1, max: 0xffffffff }), fc.integer({ min: 0, max: 9 }), anyId)
    .map(([length, type, id]) => header(length, type, id)),
  fc.integer({ min: 0, max: 0xff }).map((type) => encodeFrame(type, 1, new Uint8Array(3))),
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
)
/** A whole hostile conversation after the hello: frames, cut into reads at random points, maybe ended. */
const conversation = fc.record({
  frames: fc.array(fc.oneof({ weight: 9, arbitrary: goodFrame }, { weight: 1, arbitrary: badFrame }), {
    minLength: 1,
    maxLength: 30,
  }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  end: fc.boolean(),
})

const totals = { cases: 0, protocolErrors: 0, otherEnds: 0, stillOpen: 0, decodeErrors: 0 }
afterAll(() => {
  if (totals.cases > 0) {
    report(
      'session decoder (fast-check conversations)',
      totals.cases,
      `${totals.protocolErrors} ended with ProtocolError, ${totals.otherEnds} with another typed error, ${totals.stillOpen} still open, ${totals.decodeErrors} channels failed with DecodeError`,
    )
  }
})

const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Feeds one conversation to a fresh server session; returns how it ended. */
async function feed(frames: Uint8Array[], cuts: number[], end: boolean): Promise<void> {
  const [raw, serverLink] = linkPair()
  raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
  raw.write(clientHello)
  const server = await createSession(serverLink, {
    role: 'server',
    limits: { idleTimeout: 0, maxMessageSize: MAX_MESSAGE, maxStreams: 64, maxPendingRefs: 32 },
  })
  const channelErrors: unknown[] = []
  void (async () => {
    for await (const rx of server)
      void (async () => {
        for await (const _ of rx) {
        }
      })().catch((error) => channelErrors.push(error))
  })().catch((error) => channelErrors.push(error))
  frames = [1, 3, 5].map((id) => encodeFrame(1, id, new Uint8Array([1]))).concat(frames)
  const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
  let at = 0
  for (const frame of frames) {
    all.set(frame, at)
    at += frame.byteLength
  }
  const points = [...new Set(cuts.map((c) => c % (all.byteLength + 1)))].sort((a, b) => a - b)
  let from = 0
  for (const point of [...points, all.byteLength]) {
    if (point > from) raw.write(all.subarray(from, point))
    from = point
  }
  if (end) raw.end()
  for (let i = 0; i < 3; i++) await tick()
  const result = await Promise.race([server.closed, tick().then(() => 'open' as const)])
  totals.cases++
  if (result === 'open') totals.stillOpen++
  else if (result instanceof ProtocolError) totals.protocolErrors++
  else if (result === undefined || result instanceof LibswarmError) totals.otherEnds++
  else throw new Error(`the session ended with an untyped error: ${String(result)}`)
  server.abort('next case')
  await tick()
  for (const error of channelErrors) {
    if (!(error instanceof LibswarmError))
      throw new Error(`a channel ended with an untyped error: ${String(error)}`)
    if (error instanceof DecodeError) totals.decodeErrors++
  }
}

describe('fuzzing the session decoder with fast-check', () => {
  it(
    'hostile conversations end the session with a typed error (or leave it open); nothing escapes; other sessions carry on',
    async () => {
      const escaped: unknown[] = []
      const onError = (error: unknown) => escaped.push(error)
      process.on('uncaughtException', onError)
      process.on('unhandledRejection', onError)
      // A bystander session that must keep working the whole time.
      const [client, server] = await pairSessions()
      const echo = (async () => {
        for await (const rx of server)
          for await (const value of rx)
            await (value as { ret: { send(v: unknown): Promise<void> } }).ret.send('pong')
      })().catch(() => {})
      const ping = async () => {
        const tx = client.open<{ ret: unknown }>()
        const { pipe } = await import('../src/index.ts')
        const [replies, ret] = pipe<string>()
        await tx.send({ ret })
        const answer = await replies.receive(bounded())
        await tx.close()
        return answer
      }
      try {
        expect(await ping()).toBe('pong')
        await fc.assert(
          fc.asyncProperty(conversation, async ({ frames, cuts, end }) => {
            await feed(frames, cuts, end)
          }),
          { numRuns: RUNS, seed: fuzzSeed() },
        )
        expect(await ping()).toBe('pong')
        await new Promise((r) => setTimeout(r, 20))
        expect(escaped).toEqual([])
      } finally {
        process.off('uncaughtException', onError)
        process.off('unhandledRejection', onError)
        client.abort('done')
        await echo
      }
    },
    fuzzTimeout(RUNS, 20),
  )

  it('memory does not grow with declared sizes: 2000 sessions told a frame of up to 4 GiB follows', async () => {
    global.gc?.()
    const before = process.memoryUsage().heapUsed
    const ends: (Error | undefined)[] = []
    const sessions: Session[] = []
    for (let i = 0; i < 2000; i++) {
      const [raw, serverLink] = linkPair()
      raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
      raw.write(clientHello)
      const server = await createSession(serverLink, { role: 'server', limits: { idleTimeout: 0 } })
      sessions.push(server)
      // Half declare more than the limit (refused at the header), half exactly the limit (16 MiB)
      // and then send only 100 bytes of it: only what arrived may be held.
      raw.write(
        i % 2
          ? header(0xffffffff - i, 2, 1)
          : Uint8Array.from([...header(16 * 1024 * 1024, 2, 1), ...new Uint8Array(100)]),
      )
    }
    await tick()
    await tick()
    const grown = process.memoryUsage().heapUsed - before
    for (const [i, server] of sessions.entries()) {
      const result = await Promise.race([server.closed, tick().then(() => 'open' as const)])
      if (i % 2) ends.push(result as Error)
      else expect(result).toBe('open')
      server.abort('done')
    }
    expect(ends.every((e) => e instanceof ProtocolError)).toBe(true)
    console.log(
      `[fuzz] declared sizes: 2000 sessions, 1000 told of frames up to 4 GiB, 1000 of 16 MiB frames half-sent; heap +${Math.round(grown / 1048576)} MiB`,
    )
    // 2000 sessions cost a few KiB each; 1000 x 16 MiB would be 16 GiB.
    expect(grown).toBeLessThan(200 * 1024 * 1024)
  })

  it('frames after a graceful GOAWAY and after the link ended are ignored or refused, never crash', async () => {
    const [raw, serverLink] = linkPair()
    raw.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
    raw.write(clientHello)
    const server = await createSession(serverLink, { role: 'server', limits: { idleTimeout: 0 } })
    raw.write(encodeFrame(1, 1, new Uint8Array([1])))
    raw.write(encodeFrame(2, 1, encodeValue('before')))
    raw.write(encodeFrame(8, 0, Uint8Array.from(u32(0))))
    raw.write(encodeFrame(1, 3, new Uint8Array([1]))) // OPEN after the peer's own GOAWAY
    raw.write(encodeFrame(2, 1, encodeValue('after goaway')))
    raw.write(encodeFrame(3, 1))
    raw.end()
    const rx = await server.accept(bounded())
    expect(await rx.receive(bounded())).toBe('before')
    expect(await rx.receive(bounded())).toBe('after goaway')
    const closed = await server.closed
    expect(closed === undefined || closed instanceof LibswarmError).toBe(true)
    void SessionClosedError
    void LimitExceededError
  })
})
