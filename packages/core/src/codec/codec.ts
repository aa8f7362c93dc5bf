/**
 * The codec contract. A codec turns one message into bytes and back. Channel ends, byte streams and
 * attachments cannot be bytes: the codec hands each one to the session's {@link RefHooks}, which
 * registers it and returns a small {@link Ref} to put on the wire, and on the way back turns each
 * Ref into a live object.
 */
import { isReceiver, isSender } from '../channel.ts'
import { AttachmentKind, isAttachment, isByteStream, isSocket, streamFlags } from '../streams.ts'

/** What a reference on the wire stands for. The numbers are part of the wire protocol. */
export const RefKind = {
  /** A Sender: the receiving side gets a Sender that sends back to the owner. */
  Sender: 1,
  /** A Receiver: the receiving side gets a Receiver fed by the owner. */
  Receiver: 2,
  /** A byte stream; `flags` are {@link StreamFlags}. */
  Stream: 3,
  /** An attachment; `flags` is an {@link AttachmentKind}. */
  Attachment: 4,
} as const
export type RefKind = (typeof RefKind)[keyof typeof RefKind]

/** A reference to a channel end, byte stream or attachment, as carried inside an encoded message. */
export interface Ref {
  kind: RefKind
  /** The stream id the session assigned. */
  id: number
  /** Kind-specific flags (stream direction, attachment kind). */
  flags: number
}

/** Supplied by a session to turn live objects into references and back. */
export interface RefHooks {
  /** Registers `value` (of the given kind) with the session and returns its reference. */
  toRef(value: object, kind: RefKind, flags: number): Ref
  /** Returns the live object for a reference received from the peer. Throws to reject the message. */
  fromRef(ref: Ref): unknown
}

/** A codec bound to one session's hooks. Instances may keep encoder state; they are not shared. */
export interface CodecInstance {
  encode(value: unknown): Uint8Array
  /** Throws DecodeError for bytes that are not a valid message. */
  decode(bytes: Uint8Array): unknown
}

/** A way to turn messages into bytes. The two ends of a session agree on one by `name` at the handshake. */
export interface Codec {
  /** The name used in the handshake, e.g. `msgpack`. At most 32 ASCII characters. */
  readonly name: string
  /** Makes an instance bound to `hooks`; without hooks, channel ends cannot be encoded or decoded. */
  create(hooks?: RefHooks): CodecInstance
}

/** Classifies a value that must travel as a reference, or returns undefined for plain data. */
export function refKindOf(value: unknown): { kind: RefKind; flags: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (isSender(value)) return { kind: RefKind.Sender, flags: 0 }
  if (isReceiver(value)) return { kind: RefKind.Receiver, flags: 0 }
  if (isAttachment(value)) {
    return { kind: RefKind.Attachment, flags: isSocket(value) ? AttachmentKind.Socket : AttachmentKind.File }
  }
  if (isByteStream(value)) return { kind: RefKind.Stream, flags: streamFlags(value) }
  return undefined
}
