/**
 * Every error libswarm throws is a {@link LibswarmError}: a stable `name` (the class name), a stable
 * `code` (for programs), a message that says what went wrong and what to do, an optional `cause`,
 * and `retryable` where trying again can help.
 *
 * Adapters map their client library's failures onto these classes (NotFound, Conflict,
 * Unauthorized, Unavailable, InvalidArgument) and name themselves in the message:
 * `[adapter-consul] missing required option "address"`.
 */
import { describeReason } from './internal/describe.ts'

/** Options every libswarm error accepts. */
export interface LibswarmErrorOptions {
  /** The underlying error, kept as `error.cause`. */
  cause?: unknown
  /** Overrides the class's default for `retryable`. */
  retryable?: boolean
}

/**
 * The brand every libswarm error carries (on its prototype), shared by every copy of this module in a
 * process (`Symbol.for`): an app and a plugin released at different times may each load their own
 * copy of @libswarm/core, and `instanceof` must still recognize each other's errors.
 */
const LIBSWARM_ERROR = Symbol.for('libswarm.error')

/** An error from any copy of @libswarm/core: it has the brand and a string `code`. */
function isBranded(value: unknown): value is LibswarmError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [LIBSWARM_ERROR]?: unknown })[LIBSWARM_ERROR] === true &&
    typeof (value as { code?: unknown }).code === 'string'
  )
}

/** Any class, abstract or not, whatever its constructor's parameters. */
type AnyConstructor<T> = abstract new (...args: never[]) => T

/**
 * `value instanceof cls` for libswarm errors: `cls` in its prototype chain (the ordinary rule) or, for
 * a libswarm error from another copy of @libswarm/core, `cls` is LibswarmError or has its own static
 * `code` equal to the error's. A subclass without
 * its own `code` matches by prototype only.
 */
function isInstance<T>(cls: AnyConstructor<T>, value: unknown): value is T {
  if (Function.prototype[Symbol.hasInstance].call(cls, value)) return true
  if (!isBranded(value)) return false
  if ((cls as unknown) === LibswarmError) return true
  const code = Object.hasOwn(cls, 'code') ? (cls as unknown as { code: unknown }).code : undefined
  return typeof code === 'string' && value.code === code
}

/**
 * The base class of every error libswarm throws.
 *
 * `instanceof` works across copies of @libswarm/core (an app and its plugins may install different
 * releases side by side): `error instanceof LibswarmError` holds for a libswarm error from any copy,
 * and `error instanceof NotFoundError` for one from any copy whose `code` is `NOT_FOUND` (each class
 * with its own static `code` matches that code). Other errors, even named alike, do not match.
 */
export class LibswarmError extends Error {
  /** A stable machine-readable code, e.g. `CHANNEL_CLOSED`. */
  readonly code: string
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean

  static {
    Object.defineProperty(LibswarmError.prototype, LIBSWARM_ERROR, { value: true })
  }

  /** `value instanceof C` for this class and its subclasses, across copies of @libswarm/core (see the class doc). */
  static override [Symbol.hasInstance]<T>(this: AnyConstructor<T>, value: unknown): value is T {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof (a subclass too).
    return isInstance(this, value)
  }

  constructor(code: string, message: string, options: LibswarmErrorOptions & { retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/** The channel has ended: its sender closed it, or its receiver stopped reading. Not an error condition when iterating. */
export class ChannelClosedError extends LibswarmError {
  static readonly code = 'CHANNEL_CLOSED'
  constructor(message = 'channel is closed', options?: LibswarmErrorOptions) {
    super(ChannelClosedError.code, message, options)
  }
}

/** An operation was cancelled through its AbortSignal (or a timeout signal). */
export class AbortError extends LibswarmError {
  static readonly code = 'ABORT_ERR'
  constructor(message = 'the operation was aborted', options?: LibswarmErrorOptions) {
    super(AbortError.code, message, options)
  }
}

/** The other end of the channel called `abort(reason)`; `reason` is what it passed. */
export class ChannelAbortedError extends LibswarmError {
  static readonly code = 'CHANNEL_ABORTED'
  /** The reason the other end gave to `abort()`. */
  readonly reason: unknown
  constructor(reason?: unknown, options?: LibswarmErrorOptions) {
    super(ChannelAbortedError.code, `channel aborted by its peer: ${describeReason(reason)}`, {
      cause: options?.cause ?? reason,
      retryable: options?.retryable,
    })
    this.reason = reason
  }
}

/** A value could not be encoded (an unsupported type, or a channel end outside a session). */
export class EncodeError extends LibswarmError {
  static readonly code = 'ENCODE'
  constructor(message = 'value cannot be encoded', options?: LibswarmErrorOptions) {
    super(EncodeError.code, message, options)
  }
}

/** Bytes received could not be decoded into a message. Errors the one channel, not the session. */
export class DecodeError extends LibswarmError {
  static readonly code = 'DECODE'
  constructor(message = 'message could not be decoded', options?: LibswarmErrorOptions) {
    super(DecodeError.code, message, options)
  }
}

/** A configured limit (message size, open streams, pending references, handshake or idle time) was exceeded. */
export class LimitExceededError extends LibswarmError {
  static readonly code = 'LIMIT_EXCEEDED'
  /** Which limit, e.g. `maxMessageSize`. */
  readonly limit: string
  constructor(limit: string, message?: string, options?: LibswarmErrorOptions) {
    super(LimitExceededError.code, message ?? `limit exceeded: ${limit}`, options)
    this.limit = limit
  }
}

/** The peer broke the wire protocol (garbage, truncated or oversized frames, unknown types). Ends the session. */
export class ProtocolError extends LibswarmError {
  static readonly code = 'PROTOCOL'
  constructor(message = 'protocol error', options?: LibswarmErrorOptions) {
    super(ProtocolError.code, message, options)
  }
}

/** The session handshake failed: wrong magic, unsupported version, no common codec, or too slow. */
export class HandshakeError extends LibswarmError {
  static readonly code = 'HANDSHAKE'
  constructor(message = 'session handshake failed', options?: LibswarmErrorOptions) {
    super(HandshakeError.code, message, options)
  }
}

/** The session or connection ended (peer gone, transport closed). Pending work on it rejects with this. */
export class SessionClosedError extends LibswarmError {
  static readonly code = 'SESSION_CLOSED'
  constructor(message = 'session is closed', options?: LibswarmErrorOptions) {
    super(SessionClosedError.code, message, { retryable: true, ...options })
  }
}

/** An operation took longer than its timeout. */
export class TimeoutError extends LibswarmError {
  static readonly code = 'TIMEOUT'
  constructor(message = 'the operation timed out', options?: LibswarmErrorOptions) {
    super(TimeoutError.code, message, { retryable: true, ...options })
  }
}

/** The named thing does not exist. */
export class NotFoundError extends LibswarmError {
  static readonly code = 'NOT_FOUND'
  constructor(message = 'not found', options?: LibswarmErrorOptions) {
    super(NotFoundError.code, message, options)
  }
}

/** The request conflicts with the current state (already exists, already started, in use). */
export class ConflictError extends LibswarmError {
  static readonly code = 'CONFLICT'
  constructor(message = 'conflict with the current state', options?: LibswarmErrorOptions) {
    super(ConflictError.code, message, options)
  }
}

/** Credentials are missing or were refused. */
export class UnauthorizedError extends LibswarmError {
  static readonly code = 'UNAUTHORIZED'
  constructor(message = 'unauthorized', options?: LibswarmErrorOptions) {
    super(UnauthorizedError.code, message, options)
  }
}

/** A server or peer cannot be reached or is not ready. Usually worth retrying. */
export class UnavailableError extends LibswarmError {
  static readonly code = 'UNAVAILABLE'
  constructor(message = 'service unavailable', options?: LibswarmErrorOptions) {
    super(UnavailableError.code, message, { retryable: true, ...options })
  }
}

/** An argument, option, URL or spec is malformed. The message says which and what is expected. */
export class InvalidArgumentError extends LibswarmError {
  static readonly code = 'INVALID_ARGUMENT'
  constructor(message = 'invalid argument', options?: LibswarmErrorOptions) {
    super(InvalidArgumentError.code, message, options)
  }
}

/** A service does not implement the verb it was sent. */
export class NotImplementedError extends LibswarmError {
  static readonly code = 'NOT_IMPLEMENTED'
  constructor(message = 'not implemented', options?: LibswarmErrorOptions) {
    super(NotImplementedError.code, message, options)
  }
}

/** A remote service answered with an `Error` message; `message` is its text, unchanged. */
export class RemoteError extends LibswarmError {
  static readonly code = 'REMOTE'
  /** The code the remote side sent with its `Error` (args[1]), if any and not one of ours. */
  readonly remoteCode: string | undefined
  constructor(message: string, options?: LibswarmErrorOptions & { remoteCode?: string }) {
    super(RemoteError.code, message, options)
    this.remoteCode = options?.remoteCode
  }
}

/** Returns true for an error libswarm threw with the given class or code. */
export function isLibswarmError(error: unknown, code?: string): error is LibswarmError {
  return error instanceof LibswarmError && (code === undefined || error.code === code)
}

/** Turns an AbortSignal's reason into the error an aborted call rejects with. */
export function abortErrorFrom(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof LibswarmError) return reason
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError('the operation timed out', { cause: reason })
  }
  return new AbortError(
    reason === undefined ? 'the operation was aborted' : `aborted: ${describeReason(reason)}`,
    { cause: reason },
  )
}
