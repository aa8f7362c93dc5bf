/**
 * Byte streams and attachments: the non-data things a message may carry besides channel ends.
 * Detection is structural so that this module imports nothing from Node and runs in browsers.
 */
import type { Duplex, Readable, Writable } from 'node:stream'

/** A web stream (ReadableStream or WritableStream). */
export type WebByteStream = ReadableStream<Uint8Array> | WritableStream<Uint8Array>

/** A byte stream a message may carry: a Node Duplex, Readable or Writable, or a web stream. */
export type ByteStream = Duplex | Readable | Writable | WebByteStream

/** An open file handle (`fs.promises.FileHandle`): the parts libswarm uses. */
export interface FileHandleLike {
  readonly fd: number
  close(): Promise<void>
  stat(): Promise<unknown>
}

/** A socket (`net.Socket`): the parts libswarm uses. */
export interface SocketLike extends Duplex {
  setNoDelay(noDelay?: boolean): unknown
  remoteAddress?: string | undefined
}

/**
 * An attachment: an OS-level resource a message carries, a `net.Socket` or an open file. Over a unix
 * socket the session passes its file descriptor (SCM_RIGHTS); elsewhere its bytes are copied.
 */
export type Attachment = SocketLike | FileHandleLike

/** Stream direction flags, as the wire protocol carries them. */
export const StreamFlags = {
  /** The receiving side can read from it. */
  Readable: 1,
  /** The receiving side can write to it. */
  Writable: 2,
  /** It was a web stream (ReadableStream/WritableStream) on the sending side. */
  Web: 4,
} as const

/** Attachment kinds, as the wire protocol carries them. */
export const AttachmentKind = {
  Socket: 0,
  File: 1,
} as const

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** True for a web ReadableStream. */
export function isWebReadable(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof ReadableStream !== 'undefined' && value instanceof ReadableStream
}

/** True for a web WritableStream. */
export function isWebWritable(value: unknown): value is WritableStream<Uint8Array> {
  return typeof WritableStream !== 'undefined' && value instanceof WritableStream
}

/** True for a Node stream (Readable, Writable or Duplex). */
export function isNodeStream(value: unknown): value is Readable | Writable | Duplex {
  if (!isObject(value) || typeof value.on !== 'function') return false
  return (
    typeof value.pipe === 'function' || (typeof value.write === 'function' && typeof value.end === 'function')
  )
}

/** True for a `net.Socket` (also a Node stream, but carried as an attachment). */
export function isSocket(value: unknown): value is SocketLike {
  return isNodeStream(value) && typeof (value as unknown as SocketLike).setNoDelay === 'function'
}

/** True for an open file handle (`fs.promises.FileHandle`). */
export function isFileHandle(value: unknown): value is FileHandleLike {
  return (
    isObject(value) &&
    typeof value.fd === 'number' &&
    typeof value.stat === 'function' &&
    typeof value.close === 'function' &&
    // A FileHandle is an EventEmitter (it has `on`) but not a stream.
    !isNodeStream(value)
  )
}

/** True for an attachment: a socket or an open file. */
export function isAttachment(value: unknown): value is Attachment {
  return isSocket(value) || isFileHandle(value)
}

/** True for a byte stream that is not an attachment. */
export function isByteStream(value: unknown): value is ByteStream {
  return isWebReadable(value) || isWebWritable(value) || (isNodeStream(value) && !isSocket(value))
}

/** The {@link StreamFlags} of a byte stream as seen from the receiving side. */
export function streamFlags(stream: ByteStream): number {
  if (isWebReadable(stream)) return StreamFlags.Readable | StreamFlags.Web
  if (isWebWritable(stream)) return StreamFlags.Writable | StreamFlags.Web
  const node = stream as unknown as {
    readable?: boolean
    writable?: boolean
    read?: unknown
    write?: unknown
  }
  let flags = 0
  if (typeof node.read === 'function') flags |= StreamFlags.Readable
  if (typeof node.write === 'function') flags |= StreamFlags.Writable
  return flags
}
