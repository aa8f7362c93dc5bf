import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Codec, DecodeError, jsonCodec, msgpackCodec, type Ref, RefKind } from '../src/index.ts'
import { fuzzRuns, fuzzSeed, fuzzTimeout, report } from './fuzz-runs.ts'

const RUNS = fuzzRuns(1500)

/** Hooks like a session's: refs to unknown streams are refused with DecodeError. */
const hooks = {
  toRef: (): Ref => ({ kind: RefKind.Sender, id: 3, flags: 0 }),
  fromRef: (ref: Ref) => {
    if (ref.id > 1000) throw new DecodeError(`no stream ${ref.id}`)
    return { ref }
  },
}

/** Plain values every codec carries. */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value

/** Inputs a hostile peer may send: random bytes, mutated valid encodings, huge declared sizes, deep nesting. */
function hostile(codec: Codec): fc.Arbitrary<Uint8Array> {
  const valid = plain.map((value) => codec.create(hooks).encode(value))
  const mutated = fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
    )
    .map(([bytes, edits]) => {
      const out = bytes.slice()
      if (out.length === 0) return out
      for (const [at, byte] of edits) out[at % out.length] = byte
      return out
    })
  const truncated = fc
    .tuple(valid, fc.nat())
    .map(([bytes, cut]) => bytes.subarray(0, cut % (bytes.length + 1)))
  // Length prefixes that promise up to 4 GiB (msgpack str32, bin32, array32, map32, ext32) over a few bytes.
  const hugeDeclared = fc
    .tuple(
      fc.constantFrom(0xdb, 0xc6, 0xdd, 0xdf, 0xc9),
      fc.integer({ min: 0x100000, max: 0xffffffff }),
      fc.uint8Array({ maxLength: 16 }),
    )
    .map(([tag, size, rest]) =>
      Uint8Array.from([tag, size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff, ...rest]),
    )
  // References (msgpack ext 1-4, json $ref) to streams that do not exist, with odd payload sizes.
  const refs = fc
    .tuple(
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.nat({ max: 7 }),
    )
    .map(([kind, id, flags, size]) =>
      codec.name === 'json'
        ? new TextEncoder().encode(JSON.stringify({ $ref: [kind, id, flags] }))
        : Uint8Array.from(
            [0xc7, size, kind, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff, flags].slice(
              0,
              3 + size,
            ),
          ),
    )
  const deep = fc.tuple(fc.integer({ min: 50, max: 5_000 }), fc.boolean()).map(([depth, map]) => {
    if (codec.name === 'json')
      return new TextEncoder().encode(
        (map ? '{"a":' : '[').repeat(depth) + '1' + (map ? '}' : ']').repeat(depth),
      )
    const out = new Uint8Array(depth * (map ? 3 : 1) + 1)
    for (let i = 0; i < depth; i++) {
      if (map) out.set([0x81, 0xa1, 0x61], i * 3)
      else out[i] = 0x91
    }
    out[out.length - 1] = 0x01
    return out
  })
  return fc.oneof(fc.uint8Array({ maxLength: 256 }), valid, mutated, truncated, hugeDeclared, refs, deep)
}

function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(withoutNegativeZero)
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]))
  }
  return value
}

describe.each([
  { name: 'msgpack', codec: msgpackCodec() },
  { name: 'json', codec: jsonCodec() },
])('fuzzing the $name codec', ({ name, codec }) => {
  it(
    'decodes hostile bytes to a value or a DecodeError, never anything else',
    () => {
      const instance = codec.create(hooks)
      let cases = 0
      let rejected = 0
      const heapBefore = process.memoryUsage().heapUsed
      fc.assert(
        fc.property(hostile(codec), (bytes) => {
          cases++
          try {
            instance.decode(bytes)
          } catch (error) {
            rejected++
            if (!(error instanceof DecodeError)) throw error
          }
        }),
        { numRuns: RUNS, seed: fuzzSeed() },
      )
      global.gc?.()
      const grown = process.memoryUsage().heapUsed - heapBefore
      report(
        `${name} codec decode`,
        cases,
        `${rejected} rejected with DecodeError, heap +${Math.round(grown / 1048576)} MiB`,
      )
      // Declared sizes up to 4 GiB must not be allocated.
      expect(grown).toBeLessThan(256 * 1024 * 1024)
    },
    fuzzTimeout(RUNS, 5),
  )

  it(
    'round-trips every plain value it encodes',
    () => {
      const instance = codec.create(hooks)
      let cases = 0
      fc.assert(
        fc.property(plain, (value) => {
          cases++
          const back = instance.decode(instance.encode(value))
          // Neither carries -0 (JSON has none; msgpack writes it as the integer 0); all else comes back equal.
          expect(back).toEqual(withoutNegativeZero(value))
        }),
        { numRuns: Math.ceil(RUNS / 3), seed: fuzzSeed() },
      )
      report(`${name} codec round trip`, cases)
    },
    fuzzTimeout(RUNS, 2),
  )
})

describe('nesting far beyond any limit', () => {
  it.each([
    {
      name: 'msgpack',
      codec: msgpackCodec(),
      bytes: () => Uint8Array.from([...new Uint8Array(500_000).fill(0x91), 1]),
    },
    {
      name: 'json',
      codec: jsonCodec(),
      bytes: () => new TextEncoder().encode(`${'['.repeat(500_000)}1${']'.repeat(500_000)}`),
    },
  ])(
    '$name: 500 000 levels decode or fail with DecodeError, never a stack overflow escaping',
    ({ codec, bytes }) => {
      try {
        codec.create(hooks).decode(bytes())
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError)
      }
    },
  )
})
