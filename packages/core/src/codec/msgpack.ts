import {
  Decoder,
  decodeTimestampExtension,
  Encoder,
  EXT_TIMESTAMP,
  ExtData,
  type ExtensionCodecType,
  encodeTimestampExtension,
  DecodeError as MsgpackDecodeError,
} from '@msgpack/msgpack'
import { DecodeError, EncodeError, LibswarmError } from '../errors.ts'
import { type Codec, type CodecInstance, type Ref, type RefHooks, RefKind, refKindOf } from './codec.ts'

/** msgpack extension type of a bigint (signed, big-endian two's complement, minimal length). */
export const EXT_BIGINT = 5

/** Options of {@link msgpackCodec}. */
export interface MsgpackCodecOptions {
  /** Deepest nesting of arrays and maps a message may have, both ways. Default: 100. */
  maxDepth?: number
}

/** Encodes a reference as a 5-byte extension payload: stream id (uint32 BE), flags (uint8). */
export function encodeRefPayload(ref: Ref): Uint8Array {
  return writeRefPayload(new Uint8Array(5), ref)
}

/** Writes a reference's 5-byte payload into `bytes` (byte by byte: no DataView per reference). */
function writeRefPayload(bytes: Uint8Array, ref: Ref): Uint8Array {
  const id = ref.id >>> 0
  bytes[0] = id >>> 24
  bytes[1] = (id >>> 16) & 0xff
  bytes[2] = (id >>> 8) & 0xff
  bytes[3] = id & 0xff
  bytes[4] = ref.flags & 0xff
  return bytes
}

/** Decodes a 5-byte reference payload. */
export function decodeRefPayload(kind: RefKind, data: Uint8Array): Ref {
  if (data.byteLength !== 5) {
    throw new DecodeError(`reference of kind ${kind} has a ${data.byteLength}-byte payload, expected 5`)
  }
  const id = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0
  return { kind, id, flags: data[4]! }
}

function encodeBigInt(value: bigint): Uint8Array {
  let hex = (value < 0n ? -value : value).toString(16)
  if (hex.length % 2) hex = '0' + hex
  let length = hex.length / 2
  // Room for the sign bit.
  if (parseInt(hex.slice(0, 2), 16) & 0x80) length++
  let twos = value < 0n ? (1n << BigInt(length * 8)) + value : value
  if (value < 0n && twos < 1n << BigInt(length * 8 - 1)) {
    length++
    twos = (1n << BigInt(length * 8)) + value
  }
  const bytes = new Uint8Array(length)
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(twos & 0xffn)
    twos >>= 8n
  }
  return bytes
}

function decodeBigInt(data: Uint8Array): bigint {
  if (data.byteLength === 0) throw new DecodeError('bigint extension with no bytes')
  let value = 0n
  for (const byte of data) value = (value << 8n) | BigInt(byte)
  if (data[0]! & 0x80) value -= 1n << BigInt(data.byteLength * 8)
  return value
}

const REF_KINDS = new Set<number>(Object.values(RefKind))

class LibswarmExtensions implements ExtensionCodecType<undefined> {
  /**
   * One reference's extension, reused: the encoder copies it into its buffer as soon as
   * `tryToEncode` returns it, before it asks for the next one.
   */
  private readonly refData = new Uint8Array(5)
  private readonly refExt = new ExtData(0, this.refData)

  constructor(private readonly hooks: RefHooks | undefined) {}

  tryToEncode(object: unknown): ExtData | null {
    if (typeof object === 'bigint') return new ExtData(EXT_BIGINT, encodeBigInt(object))
    if (typeof object !== 'object' || object === null) return null
    const proto = Object.getPrototypeOf(object)
    if (proto === Object.prototype || proto === Array.prototype || ArrayBuffer.isView(object)) return null
    if (object instanceof Date) return new ExtData(EXT_TIMESTAMP, encodeTimestampExtension(object)!)
    const ref = refKindOf(object)
    if (!ref) return null
    if (!this.hooks) {
      throw new EncodeError(
        'a channel end, byte stream or attachment can only be encoded by a session; send it over a session or an in-memory pipe',
      )
    }
    const assigned = this.hooks.toRef(object, ref.kind, ref.flags)
    writeRefPayload(this.refData, assigned)
    ;(this.refExt as { type: number }).type = assigned.kind
    return this.refExt
  }

  decode(data: Uint8Array, type: number): unknown {
    if (type === EXT_TIMESTAMP) return decodeTimestampExtension(data)
    if (type === EXT_BIGINT) return decodeBigInt(data)
    if (REF_KINDS.has(type)) {
      if (!this.hooks)
        throw new DecodeError('message holds a channel reference but no session is decoding it')
      return this.hooks.fromRef(decodeRefPayload(type as RefKind, data))
    }
    throw new DecodeError(`unknown msgpack extension type ${type}`)
  }
}

class MsgpackInstance implements CodecInstance {
  private readonly encoder: Encoder
  private readonly decoder: Decoder

  constructor(hooks: RefHooks | undefined, options: MsgpackCodecOptions) {
    const extensionCodec = new LibswarmExtensions(hooks)
    this.encoder = new Encoder({ extensionCodec, maxDepth: options.maxDepth ?? 100 })
    this.decoder = new Decoder({ extensionCodec })
  }

  encode(value: unknown): Uint8Array {
    try {
      return this.encoder.encodeSharedRef(value)
    } catch (error) {
      if (error instanceof LibswarmError) throw error
      throw new EncodeError(`cannot encode message: ${(error as Error).message}`, { cause: error })
    }
  }

  decode(bytes: Uint8Array): unknown {
    try {
      return this.decoder.decode(bytes)
    } catch (error) {
      if (error instanceof LibswarmError) throw error
      const detail =
        error instanceof MsgpackDecodeError || error instanceof RangeError ? error.message : String(error)
      throw new DecodeError(`malformed msgpack message: ${detail}`, { cause: error })
    }
  }
}

/**
 * The default codec: msgpack on `@msgpack/msgpack`, with channel ends, byte streams and attachments
 * as extension types 1–4, bigint as type 5 and Date as the standard timestamp (-1).
 *
 * `encode` returns a view of a buffer the instance reuses: copy it (or write it out) before the next
 * `encode` call on the same instance.
 */
export function msgpackCodec(options: MsgpackCodecOptions = {}): Codec {
  return {
    name: 'msgpack',
    create: (hooks) => new MsgpackInstance(hooks, options),
  }
}
