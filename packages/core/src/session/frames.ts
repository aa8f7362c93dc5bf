/**
 * Wire constants and the byte layout of the handshake and of frames. `docs/PROTOCOL.md` is the
 * normative description; every number here is part of the protocol.
 */
import { HandshakeError } from '../errors.ts'

/** The four bytes every session starts with, both ways: ASCII "LSWM". */
export const MAGIC: Uint8Array = new Uint8Array([0x4c, 0x53, 0x57, 0x4d])
/** The protocol version this library speaks. */
export const PROTOCOL_VERSION = 1
/** Size of the fixed part of a hello, before the codec list. */
export const HELLO_FIXED_SIZE = 19
/** Size of a frame header. */
export const FRAME_HEADER_SIZE = 10
/** Largest data frame a byte stream sends; bigger writes are split. */
export const MAX_BYTES_FRAME = 64 * 1024

/** Frame types. */
export const FrameType = {
  /** Opens a top-level channel (stream id chosen by the opener). Payload: 1 byte, the stream kind (1). */
  Open: 1,
  /** Carries one encoded message (channel) or some bytes (byte stream). */
  Data: 2,
  /** Half-close: the sender of this frame will send no more DATA on the stream. Empty payload. */
  End: 3,
  /** Ends the stream at once, both ways. Payload: error code (u32), UTF-8 reason. */
  Reset: 4,
  /** Grants flow-control credit. Payload: increment in bytes (u32). Stream 0 = the whole session. */
  Credit: 5,
  /** Keepalive request. Payload: 8 opaque bytes. Stream 0. */
  Ping: 6,
  /** Keepalive answer. Payload: the 8 bytes of the PING. Stream 0. */
  Pong: 7,
  /** The session is ending. Payload: error code (u32), UTF-8 reason. Stream 0. */
  GoAway: 8,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

/** Error codes carried by RESET and GOAWAY. */
export const ErrorCode = {
  /** Graceful: no error. */
  NoError: 0,
  /** The peer broke the protocol. */
  Protocol: 1,
  /** RESET by a channel's receiver: it stopped reading. */
  Cancel: 2,
  /** RESET by a channel's sender: `abort(reason)`; the reason text follows. */
  Abort: 3,
  /** The stream was refused (the session is shutting down). */
  Refused: 4,
  /** A limit was exceeded (open streams, pending references, message size). */
  Limit: 5,
  /** A message on the stream could not be decoded; the channel is errored. */
  Decode: 6,
  /** An internal error (a local byte stream failed, ...). */
  Internal: 7,
  /** The session was idle for too long. */
  Timeout: 8,
} as const

/** Stream kinds carried by OPEN. */
export const OpenKind = { Channel: 1 } as const

/** Hello status values (the low 7 bits of the hello's status byte). */
export const HelloStatus = { Ok: 0, UnsupportedVersion: 1, NoCommonCodec: 2 } as const

/**
 * Bit 7 of the hello's status byte: the sender of this hello can pass file descriptors over its
 * link. A client sets it when its link can; a server sets it only when the client did and its own
 * link can too, so a set bit in the server's hello means both ends pass descriptors.
 */
export const HELLO_PASS_FDS = 0x80

/** A parsed hello. */
export interface Hello {
  version: number
  status: number
  maxMessageSize: number
  streamWindow: number
  sessionWindow: number
  codecs: string[]
  /** {@link HELLO_PASS_FDS}: the sender of this hello passes file descriptors. Default: false. */
  passFds?: boolean
}

const ascii = new TextEncoder()
const asciiDecoder = new TextDecoder()

/** Encodes a hello. */
export function encodeHello(hello: Omit<Hello, 'version'> & { version?: number }): Uint8Array {
  const names = hello.codecs.map((name) => ascii.encode(name))
  let size = HELLO_FIXED_SIZE
  for (const name of names) size += 1 + name.byteLength
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  bytes[4] = hello.version ?? PROTOCOL_VERSION
  bytes[5] = (hello.status & 0x7f) | (hello.passFds ? HELLO_PASS_FDS : 0)
  view.setUint32(6, hello.maxMessageSize)
  view.setUint32(10, hello.streamWindow)
  view.setUint32(14, hello.sessionWindow)
  bytes[18] = names.length
  let offset = HELLO_FIXED_SIZE
  for (const name of names) {
    bytes[offset++] = name.byteLength
    bytes.set(name, offset)
    offset += name.byteLength
  }
  return bytes
}

/**
 * Parses a hello from the start of `bytes`. Returns undefined when more bytes are needed, or the
 * hello and how many bytes it took. Throws HandshakeError for bytes that are not a hello.
 */
export function decodeHello(bytes: Uint8Array): { hello: Hello; size: number } | undefined {
  const magicBytes = Math.min(bytes.byteLength, 4)
  for (let i = 0; i < magicBytes; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new HandshakeError(
        'the peer does not speak the libswarm session protocol (bad magic bytes); check that both ends use a libswarm transport on the same URL',
      )
    }
  }
  if (bytes.byteLength < 5) return undefined
  const version = bytes[4]!
  if (version !== PROTOCOL_VERSION) {
    // Only magic and version are stable across versions: do not read further.
    return {
      hello: { version, status: 0, maxMessageSize: 0, streamWindow: 0, sessionWindow: 0, codecs: [] },
      size: 5,
    }
  }
  if (bytes.byteLength < HELLO_FIXED_SIZE) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = bytes[18]!
  let offset = HELLO_FIXED_SIZE
  const codecs: string[] = []
  for (let i = 0; i < count; i++) {
    if (bytes.byteLength < offset + 1) return undefined
    const length = bytes[offset]!
    if (length === 0 || length > 32)
      throw new HandshakeError(`hello names a codec of ${length} bytes (1-32 allowed)`)
    if (bytes.byteLength < offset + 1 + length) return undefined
    codecs.push(asciiDecoder.decode(bytes.subarray(offset + 1, offset + 1 + length)))
    offset += 1 + length
  }
  return {
    hello: {
      version,
      status: bytes[5]! & 0x7f,
      passFds: (bytes[5]! & HELLO_PASS_FDS) !== 0,
      maxMessageSize: view.getUint32(6),
      streamWindow: view.getUint32(10),
      sessionWindow: view.getUint32(14),
      codecs,
    },
    size: offset,
  }
}

/** Writes a frame header into `target` at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  stream: number,
): void {
  target[offset] = length >>> 24
  target[offset + 1] = (length >>> 16) & 0xff
  target[offset + 2] = (length >>> 8) & 0xff
  target[offset + 3] = length & 0xff
  target[offset + 4] = type
  target[offset + 5] = flags
  target[offset + 6] = stream >>> 24
  target[offset + 7] = (stream >>> 16) & 0xff
  target[offset + 8] = (stream >>> 8) & 0xff
  target[offset + 9] = stream & 0xff
}

/** Encodes one whole frame (header and payload) into a new array. */
export function encodeFrame(
  type: number,
  stream: number,
  payload: Uint8Array = new Uint8Array(0),
  flags = 0,
): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_SIZE + payload.byteLength)
  writeHeader(bytes, 0, payload.byteLength, type, flags, stream)
  bytes.set(payload, FRAME_HEADER_SIZE)
  return bytes
}

/** A code and UTF-8 text, the payload of RESET and GOAWAY. */
export function encodeCodeReason(code: number, reason: string): Uint8Array {
  const text = ascii.encode(reason.length > 1024 ? `${reason.slice(0, 1021)}...` : reason)
  const bytes = new Uint8Array(4 + text.byteLength)
  new DataView(bytes.buffer).setUint32(0, code)
  bytes.set(text, 4)
  return bytes
}

/** Parses a RESET/GOAWAY payload. */
export function decodeCodeReason(payload: Uint8Array): { code: number; reason: string } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  return { code: view.getUint32(0), reason: asciiDecoder.decode(payload.subarray(4)) }
}

/** A u32 payload (CREDIT). */
export function encodeU32(value: number): Uint8Array {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}
