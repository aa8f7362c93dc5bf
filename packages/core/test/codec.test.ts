import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  type Codec,
  DecodeError,
  EncodeError,
  jsonCodec,
  msgpackCodec,
  pipe,
  type Ref,
  type RefHooks,
  RefKind,
  StreamFlags,
} from '../src/index.ts'

/** A fake session: numbers every object it is given, and hands back the same object for the ref. */
function recordingHooks(): RefHooks & { refs: Ref[]; objects: object[] } {
  const objects: object[] = []
  const refs: Ref[] = []
  return {
    objects,
    refs,
    toRef(value, kind, flags) {
      objects.push(value)
      const ref = { kind, id: objects.length * 2, flags }
      refs.push(ref)
      return ref
    },
    fromRef(ref) {
      return objects[ref.id / 2 - 1] ?? { unknownRef: ref }
    },
  }
}

const codecs: { name: string; codec: Codec }[] = [
  { name: 'msgpack', codec: msgpackCodec() },
  { name: 'json', codec: jsonCodec() },
]

describe.each(codecs)('$name codec', ({ codec }) => {
  const roundTrip = (value: unknown, hooks?: RefHooks) => {
    const instance = codec.create(hooks)
    return instance.decode(instance.encode(value).slice())
  }

  it('round-trips every plain value type', () => {
    const value = {
      nil: null,
      yes: true,
      no: false,
      int: 42,
      negative: -7,
      float: 1.5,
      big: 12345678901234567890123n,
      negativeBig: -(2n ** 70n),
      smallBig: -1n,
      text: 'héllo ✓',
      bytes: new Uint8Array([0, 1, 2, 255]),
      list: [1, 'two', [3]],
      nested: { a: { b: { c: 'd' } } },
      when: new Date('2024-05-06T07:08:09.010Z'),
      dollar: { $ref: 'not a ref' },
    }
    expect(roundTrip(value)).toEqual(value)
  })

  it('turns nested channel ends and streams into references through the hooks, and back', () => {
    const hooks = recordingHooks()
    const [rx, tx] = pipe()
    const stream = new PassThrough()
    const message = { deep: { list: [tx, { rx }] }, stream }
    const decoded = roundTrip(message, hooks) as typeof message
    expect(hooks.refs.map((r) => r.kind)).toEqual([RefKind.Sender, RefKind.Receiver, RefKind.Stream])
    expect(hooks.refs[2]!.flags).toBe(StreamFlags.Readable | StreamFlags.Writable)
    expect(decoded.deep.list[0]).toBe(tx)
    expect((decoded.deep.list[1] as { rx: unknown }).rx).toBe(rx)
    expect(decoded.stream).toBe(stream)
  })

  it('refuses to encode a channel end without a session', () => {
    const [, tx] = pipe()
    expect(() => codec.create().encode({ tx })).toThrow(EncodeError)
    expect(() => codec.create().encode({ tx })).toThrow(/only be encoded by a session/)
  })

  it('rejects garbage with a DecodeError, not a crash', () => {
    const instance = codec.create(recordingHooks())
    for (const bytes of [
      new Uint8Array([0xc1]),
      new Uint8Array([0x92, 0x01]),
      new TextEncoder().encode('{"a":'),
    ]) {
      expect(() => instance.decode(bytes)).toThrow(DecodeError)
    }
  })
})

describe('msgpack codec specifics', () => {
  it('encodes a reference as a 5-byte extension: id then flags', () => {
    const hooks: RefHooks = {
      toRef: (_value, kind, flags) => ({ kind, id: 0x01020304, flags }),
      fromRef: (ref) => ref,
    }
    const [, tx] = pipe()
    const bytes = msgpackCodec().create(hooks).encode(tx)
    // fixext 8 is 0xd7; a 5-byte payload uses ext 8: c7 05 <type> <payload>
    expect(Buffer.from(bytes).toString('hex')).toBe('c70501' + '01020304' + '00')
  })

  it('rejects an unknown extension type and a reference with a wrong payload size', () => {
    const instance = msgpackCodec().create(recordingHooks())
    expect(() => instance.decode(new Uint8Array([0xd4, 0x2a, 0x00]))).toThrow(
      /unknown msgpack extension type 42/,
    )
    expect(() => instance.decode(new Uint8Array([0xd4, 0x01, 0x00]))).toThrow(/1-byte payload, expected 5/)
  })

  it('rejects a reference when no session decodes', () => {
    expect(() =>
      msgpackCodec()
        .create()
        .decode(Buffer.from('c7050100000002' + '00', 'hex')),
    ).toThrow(DecodeError)
  })

  it('limits nesting depth when encoding', () => {
    let deep: unknown = 'bottom'
    for (let i = 0; i < 20; i++) deep = [deep]
    expect(() => msgpackCodec({ maxDepth: 10 }).create().encode(deep)).toThrow(EncodeError)
  })
})
