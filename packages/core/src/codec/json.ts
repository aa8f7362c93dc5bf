import { DecodeError, EncodeError, LibswarmError } from '../errors.ts'
import { type Codec, type CodecInstance, type RefHooks, RefKind, refKindOf } from './codec.ts'

/*
 * Plain JSON with tagged single-key objects for what JSON cannot say:
 *   {"$ref":[kind,id,flags]}  a channel end, byte stream or attachment
 *   {"$bytes":"<base64>"}     a Uint8Array
 *   {"$date":"<ISO 8601>"}    a Date
 *   {"$bigint":"<decimal>"}   a bigint
 *   {"$obj":{...}}            a plain object that itself has exactly one key starting with "$"
 * `undefined` becomes null (as in msgpack).
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
const REF_KINDS = new Set<number>(Object.values(RefKind))

function toBase64(bytes: Uint8Array): string {
  if (typeof Buffer !== 'undefined')
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(text, 'base64'))
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

function isTagged(value: Record<string, unknown>): string | undefined {
  let only: string | undefined
  for (const key in value) {
    if (only !== undefined) return undefined
    only = key
  }
  return only?.startsWith('$') ? only : undefined
}

class JsonInstance implements CodecInstance {
  constructor(
    private readonly hooks: RefHooks | undefined,
    private readonly maxDepth: number,
  ) {}

  private toJson(value: unknown, depth: number): unknown {
    if (depth > this.maxDepth) throw new EncodeError(`message is nested deeper than ${this.maxDepth} levels`)
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value
      case 'number':
        if (!Number.isFinite(value)) throw new EncodeError(`JSON cannot carry the number ${value}`)
        return value
      case 'bigint':
        return { $bigint: value.toString() }
      case 'undefined':
        return null
      case 'object':
        break
      default:
        throw new EncodeError(`cannot encode a value of type ${typeof value}`)
    }
    if (value === null) return null
    if (Array.isArray(value)) return value.map((item) => this.toJson(item, depth + 1))
    if (value instanceof Uint8Array) return { $bytes: toBase64(value) }
    if (value instanceof Date) return { $date: value.toISOString() }
    const ref = refKindOf(value)
    if (ref) {
      if (!this.hooks) {
        throw new EncodeError(
          'a channel end, byte stream or attachment can only be encoded by a session; send it over a session or an in-memory pipe',
        )
      }
      const assigned = this.hooks.toRef(value, ref.kind, ref.flags)
      return { $ref: [assigned.kind, assigned.id, assigned.flags] }
    }
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = this.toJson(item, depth + 1)
    return isTagged(out) ? { $obj: out } : out
  }

  private fromJson(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value
    if (Array.isArray(value)) return value.map((item) => this.fromJson(item))
    const record = value as Record<string, unknown>
    const tag = isTagged(record)
    if (tag !== undefined) {
      const body = record[tag]
      switch (tag) {
        case '$ref': {
          if (
            !Array.isArray(body) ||
            body.length !== 3 ||
            !body.every((n) => Number.isInteger(n) && n >= 0)
          ) {
            throw new DecodeError('"$ref" must be [kind, id, flags] of non-negative integers')
          }
          const [kind, id, flags] = body as [number, number, number]
          if (!REF_KINDS.has(kind)) throw new DecodeError(`unknown reference kind ${kind}`)
          if (!this.hooks)
            throw new DecodeError('message holds a channel reference but no session is decoding it')
          return this.hooks.fromRef({ kind: kind as RefKind, id, flags })
        }
        case '$bytes':
          if (typeof body !== 'string') throw new DecodeError('"$bytes" must be a base64 string')
          return fromBase64(body)
        case '$date': {
          const date = typeof body === 'string' ? new Date(body) : new Date(Number.NaN)
          if (Number.isNaN(date.getTime())) throw new DecodeError('"$date" must be an ISO 8601 string')
          return date
        }
        case '$bigint':
          if (typeof body !== 'string' || !/^-?\d+$/.test(body))
            throw new DecodeError('"$bigint" must be a decimal string')
          return BigInt(body)
        case '$obj':
          if (typeof body !== 'object' || body === null || Array.isArray(body))
            throw new DecodeError('"$obj" must be an object')
          return this.fromObject(body as Record<string, unknown>)
      }
    }
    return this.fromObject(record)
  }

  private fromObject(record: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(record)) out[key] = this.fromJson(item)
    return out
  }

  encode(value: unknown): Uint8Array {
    return encoder.encode(JSON.stringify(this.toJson(value, 0)))
  }

  decode(bytes: Uint8Array): unknown {
    let parsed: unknown
    try {
      parsed = JSON.parse(decoder.decode(bytes))
    } catch (error) {
      throw new DecodeError(`malformed JSON message: ${(error as Error).message}`, { cause: error })
    }
    try {
      return this.fromJson(parsed)
    } catch (error) {
      if (error instanceof LibswarmError) throw error
      throw new DecodeError(`malformed JSON message: ${(error as Error).message}`, { cause: error })
    }
  }
}

/** Options of {@link jsonCodec}. */
export interface JsonCodecOptions {
  /** Deepest nesting a message may have when encoded. Default: 100. */
  maxDepth?: number
}

/** A JSON codec, readable on the wire, for debugging. Slower and larger than msgpack. */
export function jsonCodec(options: JsonCodecOptions = {}): Codec {
  const maxDepth = options.maxDepth ?? 100
  return { name: 'json', create: (hooks) => new JsonInstance(hooks, maxDepth) }
}
