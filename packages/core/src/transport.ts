/**
 * The transport contract. A transport only supplies a reliable, ordered, duplex byte stream (a
 * {@link Link}) and dials / listens by URL. Everything above it (the session, its framing, flow
 * control, nesting) is the same code for every transport.
 *
 * A Link is deliberately smaller than a Node Duplex: callbacks instead of stream events, so the
 * session's hot path has no stream machinery in it, and so a browser WebSocket can be a Link
 * without polyfills. `duplexLink()` (in the session module) adapts a Node Duplex/Socket.
 */

/** Who is at the other end of a link, as the transport established it. */
export interface PeerInfo {
  /** The transport's name, e.g. `tcp`. */
  transport: string
  /** A printable address: `127.0.0.1:5000`, `/run/swarmd.sock`, ... */
  address?: string
  /**
   * What the transport authenticated, if anything: a TLS client certificate's subject, the result of
   * a bearer-token check, the peer's uid on a unix socket. Handlers see it to authorize calls.
   */
  identity?: unknown
}

/** What a link calls as bytes and events arrive. Set once by the session with {@link Link.start}. */
export interface LinkHandlers {
  /** Bytes arrived. `fds` are file descriptors that arrived with them (unix sockets only). */
  data(chunk: Uint8Array, fds?: number[]): void
  /** The peer ended its side; no more data will arrive. */
  end(): void
  /** The link failed (reset, TLS error, ...). No more events follow. */
  error(error: Error): void
  /** The link's outgoing buffer has room again after `write` returned false. */
  drain(): void
  /** The link is fully closed (both directions). No more events follow. */
  close(): void
}

/** A reliable, ordered, duplex byte stream between two endpoints. */
export interface Link {
  /** Begins delivering events to `handlers`. Called exactly once. Data that arrived before is buffered until then. */
  start(handlers: LinkHandlers): void
  /**
   * Queues bytes for sending. Returns false once the outgoing buffer is above its high-water mark;
   * the caller should then wait for `drain`. `fds` asks the link to pass these file descriptors
   * along with the bytes (only where {@link Link.canPassFds} is true).
   */
  write(chunk: Uint8Array, fds?: number[]): boolean
  /** Queues several chunks at once (one syscall where the transport can). Optional; falls back to `write`. */
  writev?(chunks: Uint8Array[]): boolean
  /** Flushes what is queued, then ends the outgoing direction. */
  end(): void
  /** Closes both directions at once, dropping what is queued. */
  destroy(error?: Error): void
  /** Stops delivering `data` until `resume` (backpressure onto the OS socket). Optional. */
  pause?(): void
  /** Resumes delivering `data`. Optional. */
  resume?(): void
  /** True when file descriptors can be passed over this link (a unix socket with SCM_RIGHTS). */
  readonly canPassFds?: boolean
  /** Who is at the other end. */
  readonly peer: PeerInfo
}

/** Options of {@link Transport.dial}. */
export interface DialOptions {
  /** Cancels the dial. */
  signal?: AbortSignal
  /** Transport-specific options (TLS material, headers, tokens, ...). */
  [option: string]: unknown
}

/** Options of {@link Transport.listen}. */
export interface ListenOptions {
  /** Closes the listener when it fires. */
  signal?: AbortSignal
  /**
   * Decides whether an incoming link may proceed, after the transport's own checks (certificates,
   * tokens). Return false or throw to refuse it. Default: accept.
   */
  authenticate?: (peer: PeerInfo) => boolean | Promise<boolean>
  /** Transport-specific options. */
  [option: string]: unknown
}

/** A listening endpoint: an async iterable of incoming links. */
export interface LinkListener extends AsyncIterable<Link> {
  /** The URL it actually listens on (with the real port when `:0` was asked for). */
  readonly url: URL
  /** Stops accepting. Links already accepted stay open. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A way to reach a peer: dials and listens by URL. */
export interface Transport {
  /** e.g. `tcp`. */
  readonly name: string
  /** URL schemes it handles, without the colon: `['tcp']`, `['ws', 'wss']`. */
  readonly schemes: readonly string[]
  dial(url: URL, options?: DialOptions): Promise<Link>
  listen(url: URL, options?: ListenOptions): Promise<LinkListener>
}
