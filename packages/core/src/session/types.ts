import type { OperationOptions, Receiver, Sender } from '../channel.ts'
import type { Codec } from '../codec/codec.ts'
import type { PeerInfo } from '../transport.ts'

/** Limits of one session. Every one has a default; exceeding one is a LimitExceededError. */
export interface SessionLimits {
  /** Largest encoded message (and frame) this side accepts, in bytes. Default: 16 MiB. */
  maxMessageSize?: number
  /** Most streams (channels and byte streams, both ways) open at once. Default: 65 536. */
  maxStreams?: number
  /**
   * Most incoming channels and references not yet taken by the application (the accept backlog plus
   * the channel ends inside received but not yet received messages). Default: 16 384.
   */
  maxPendingRefs?: number
  /** How long the handshake may take, in ms. Default: 10 000. */
  handshakeTimeout?: number
  /**
   * A session that receives nothing for this long (ms) ends with LimitExceededError. While idle it
   * sends a PING every third of this time, so a live peer always answers. 0 disables. Default: 60 000.
   */
  idleTimeout?: number
  /** Flow-control window per stream (bytes a peer may send before we grant more). Default: 256 KiB. */
  streamWindow?: number
  /**
   * Flow-control window of each byte stream this side receives: the hello's `streamWindow`, widened
   * with a CREDIT as the stream opens (never narrowed). Byte streams need more in flight than
   * channels to keep a fast link busy. Default: 1 MiB, or 4 × `streamWindow` when only that is set.
   */
  byteStreamWindow?: number
  /** Flow-control window of the whole session. Default: 4 MiB. */
  sessionWindow?: number
  /** How long a graceful `close()` waits for open streams to finish before aborting, in ms. Default: 10 000. */
  closeTimeout?: number
}

/** Options of {@link createSession}. */
export interface SessionOptions {
  /** Which side of the link this is. The client sends its hello first and uses odd stream ids. */
  role: 'client' | 'server'
  /**
   * Codecs in order of preference. The client offers all; the server picks the first of the client's
   * it also has. Default: `[msgpackCodec(), jsonCodec()]`.
   */
  codecs?: Codec[]
  /** Limits; see {@link SessionLimits} for defaults. */
  limits?: SessionLimits
  /** Aborts the handshake, or the session once it is up. */
  signal?: AbortSignal
}

/** One end of a session: any number of channels, both ways, over one link. */
export interface Session extends AsyncIterable<Receiver> {
  /** Who is at the other end, as the transport established it. */
  readonly peer: PeerInfo
  /** The codec the two ends agreed on (`memory` for an in-memory session). */
  readonly codec: string
  /** Opens a channel to the peer; the peer gets its Receiver from `accept()`. */
  open<T = unknown>(): Sender<T>
  /** The next channel the peer opened. Rejects with ChannelClosedError once the session is closing or closed. */
  accept<T = unknown>(options?: OperationOptions): Promise<Receiver<T>>
  /**
   * Graceful end: refuses new channels, closes the channels this side opened (after what was sent),
   * waits for the other streams to finish (up to `closeTimeout`), then closes the link.
   */
  close(): Promise<void>
  /** Ends the session now. Pending calls reject with SessionClosedError carrying `reason`. */
  abort(reason?: unknown): void
  /** Resolves when the session has ended: with undefined after a graceful close, else with the error. Never rejects. */
  readonly closed: Promise<Error | undefined>
  /** Same as {@link Session.close}. */
  [Symbol.asyncDispose](): Promise<void>
}
