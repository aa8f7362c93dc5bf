/**
 * The wire session: many channels and byte streams over one {@link Link}. See docs/PROTOCOL.md.
 * No node:* imports here (this module is on the browser path); Node streams are loaded on demand.
 */
import type { Duplex, Readable, Writable } from 'node:stream'
import { type OperationOptions, RECEIVER, type Receiver, SENDER, type Sender } from '../channel.ts'
import { type Codec, type CodecInstance, type Ref, RefKind } from '../codec/codec.ts'
import { jsonCodec } from '../codec/json.ts'
import { msgpackCodec } from '../codec/msgpack.ts'
import { copy } from '../copy.ts'
import {
  abortErrorFrom,
  ChannelAbortedError,
  ChannelClosedError,
  DecodeError,
  HandshakeError,
  LibswarmError,
  LimitExceededError,
  ProtocolError,
  SessionClosedError,
} from '../errors.ts'
import { describeReason as describe } from '../internal/describe.ts'
import { IdTable } from '../internal/id-table.ts'
import { listen, Queue, settle, type Waiter, waitOn } from '../internal/queue.ts'
import {
  type ClosedListener,
  ClosedListeners,
  canTrySend,
  ON_CLOSED,
  TRY_SEND,
  type TrySender,
  whenClosed,
} from '../internal/sender-hooks.ts'
import { receiverIterator } from '../pipe.ts'
import { AttachmentKind, type FileHandleLike, isWebReadable, isWebWritable, StreamFlags } from '../streams.ts'
import type { Link, PeerInfo } from '../transport.ts'
import {
  decodeCodeReason,
  decodeHello,
  ErrorCode,
  encodeCodeReason,
  encodeHello,
  FRAME_HEADER_SIZE,
  FrameType,
  type Hello,
  HelloStatus,
  MAX_BYTES_FRAME,
  OpenKind,
  PROTOCOL_VERSION,
  writeHeader,
} from './frames.ts'
import type { Session, SessionLimits, SessionOptions } from './types.ts'

/** The defaults of {@link SessionLimits}. */
export const DEFAULT_LIMITS: Readonly<Required<SessionLimits>> = Object.freeze({
  maxMessageSize: 16 * 1024 * 1024,
  maxStreams: 65_536,
  maxPendingRefs: 16_384,
  handshakeTimeout: 10_000,
  idleTimeout: 60_000,
  streamWindow: 256 * 1024,
  byteStreamWindow: 1024 * 1024,
  sessionWindow: 4 * 1024 * 1024,
  closeTimeout: 10_000,
})

type NodeStreamModule = typeof import('node:stream')
let nodeStreamModule: Promise<NodeStreamModule | undefined> | undefined
function loadNodeStream(): Promise<NodeStreamModule | undefined> {
  if (!nodeStreamModule) {
    const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
    const specifier = 'node:stream'
    nodeStreamModule = isNode
      ? (import(/* @vite-ignore */ specifier) as Promise<NodeStreamModule>).catch(() => undefined)
      : Promise.resolve(undefined)
  }
  return nodeStreamModule
}

const RESOLVED: Promise<void> = Promise.resolve()
const EMPTY = new Uint8Array(0)
const SLAB_SIZE = 64 * 1024
/** Streams the peer ended, remembered per generation (PROTOCOL.md: at least the last 4096). */
const PEER_FINISHED_GENERATION = 4096
const COPY_LIMIT = 16 * 1024

/**
 * When queued frames are written. In Node, a nextTick queued from a promise job runs only once the
 * whole microtask queue has drained: a burst of sends (each `await`ing a resolved promise) becomes
 * one write, and a lone reply still leaves before the event loop turns. Elsewhere, a macrotask.
 */
const nodeProcess = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process
const schedule: (fn: () => void) => void =
  typeof nodeProcess?.nextTick === 'function'
    ? (fn) => nodeProcess.nextTick!(fn)
    : typeof setImmediate === 'function'
      ? (fn) => setImmediate(fn)
      : (fn) => setTimeout(fn, 0)

function unref(timer: unknown): void {
  ;(timer as { unref?: () => void } | undefined)?.unref?.()
}

/** What every stream of a session answers to. */
interface StreamEnd {
  readonly id: number
  /** True when the object the application holds came from a peer's reference (it may be echoed back). */
  readonly imported: boolean
  readonly refKind: RefKind
  /** The object the application sees (the Sender, Receiver, or byte stream). */
  readonly surface: object
  /** The local object this stream was made for when this side sent it in a message; else undefined. */
  exportValue: object | undefined
  /** The reference kind it was sent as (meaningful while `exportValue` is set). */
  exportKind: RefKind
  onData(payload: Uint8Array): void
  onEnd(): void
  onReset(code: number, reason: string): void
  onCredit(increment: number): void
  onSessionEnd(error: Error): void
}

/** What a connection that ends during the handshake most likely means, for the error's message. */
const REFUSED_HINT =
  'the peer may have refused this client (its authenticate check, a missing or wrong client certificate, a wrong token), or it is not a libswarm endpoint'

/** Maps a RESET code from the peer to the error a channel end sees. */
function resetError(code: number, reason: string, side: 'send' | 'receive'): Error {
  switch (code) {
    case ErrorCode.Cancel:
      return new ChannelClosedError('the receiver stopped reading from this channel')
    case ErrorCode.Abort:
      return new ChannelAbortedError(reason)
    case ErrorCode.Limit:
      return new LimitExceededError(
        'peer',
        `the peer refused this ${side === 'send' ? 'channel' : 'stream'}: ${reason}`,
      )
    case ErrorCode.Refused:
      return new SessionClosedError(`the peer refused this channel: ${reason || 'it is closing'}`)
    case ErrorCode.Decode:
      return new DecodeError(`the peer could not decode a message on this channel: ${reason}`)
    default:
      return new ChannelAbortedError(reason || `stream reset with code ${code}`)
  }
}

interface PendingSend<T> extends Waiter<void> {
  value: T
}

/** The sending end of a channel on a session. */
class OutChannel<T = unknown> implements Sender<T>, StreamEnd, TrySender<T> {
  declare readonly [SENDER]: true
  readonly refKind = RefKind.Sender
  exportValue: object | undefined = undefined
  exportKind: RefKind = RefKind.Receiver
  /** Opened by `open()` (a top-level channel). */
  topLevel = false
  credit: number
  private readonly pending = new Queue<PendingSend<T>>()
  /** 0 open, 1 closing (END after pending), 2 done. */
  private state = 0
  private error: Error | undefined
  private closedPromise: Promise<void> | undefined
  private resolveClosed: (() => void) | undefined
  private closeWaiters: (() => void)[] | undefined
  private closedListeners: ClosedListeners | undefined

  constructor(
    private readonly session: WireSession,
    readonly id: number,
    readonly imported: boolean,
  ) {
    this.credit = session.peerHello.streamWindow
  }

  get surface(): object {
    return this
  }

  get closed(): Promise<void> {
    if (!this.closedPromise) {
      this.closedPromise =
        this.state === 2 ? RESOLVED : new Promise<void>((resolve) => (this.resolveClosed = resolve))
    }
    return this.closedPromise
  }

  send(value: T, options?: OperationOptions): Promise<void> {
    if (this.state !== 0) return Promise.reject(this.sendError())
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal))
    const session = this.session
    if (this.pending.length === 0 && this.credit > 0 && session.sendCredit > 0 && !session.ended) {
      try {
        this.credit -= session.writeMessage(this.id, value)
      } catch (error) {
        return Promise.reject(error)
      }
      return RESOLVED
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: PendingSend<T> = { value, resolve, reject, signal, onAbort: undefined }
      this.pending.push(waiter)
      if (signal) {
        waiter.onAbort = () => {
          this.pending.remove(waiter)
          reject(abortErrorFrom(signal))
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      if (session.sendCredit <= 0) session.blocked.add(this)
    })
  }

  [TRY_SEND](value: T): boolean {
    const session = this.session
    if (this.state !== 0 || this.pending.length > 0 || this.credit <= 0) return false
    if (session.sendCredit <= 0 || session.ended) return false
    this.credit -= session.writeMessage(this.id, value)
    return true
  }

  [ON_CLOSED](listener: ClosedListener): void {
    if (this.state === 2) queueMicrotask(() => listener.senderClosed())
    else (this.closedListeners ??= new ClosedListeners()).add(listener)
  }

  /** Sends what waits, as far as credit allows. */
  drain(): void {
    const session = this.session
    while (this.pending.length > 0 && this.credit > 0) {
      if (session.sendCredit <= 0) {
        session.blocked.add(this)
        return
      }
      const waiter = settle(this.pending.shift()!) as PendingSend<T>
      try {
        this.credit -= session.writeMessage(this.id, waiter.value)
        waiter.resolve()
      } catch (error) {
        waiter.reject(error)
      }
    }
    if (this.state === 1 && this.pending.length === 0) this.finish(true)
  }

  close(): Promise<void> {
    if (this.state === 2) return RESOLVED
    if (this.state === 0) {
      this.state = 1
      if (this.pending.length === 0) {
        this.finish(true)
        return RESOLVED
      }
    }
    return new Promise((r) => (this.closeWaiters ??= []).push(r))
  }

  private finish(sendEnd: boolean): void {
    if (this.state === 2) return
    this.state = 2
    if (sendEnd && !this.session.ended) this.session.frame(FrameType.End, this.id)
    this.session.release(this)
    this.resolveClosed?.()
    this.closedPromise ??= RESOLVED
    this.closedListeners?.fire()
    const waiters = this.closeWaiters
    this.closeWaiters = undefined
    if (waiters) for (const resolve of waiters) resolve()
  }

  abort(reason?: unknown): void {
    if (this.state === 2) return
    this.error = new ChannelAbortedError(reason)
    if (!this.session.ended)
      this.session.frame(FrameType.Reset, this.id, encodeCodeReason(ErrorCode.Abort, describe(reason)))
    this.failPending(this.error)
    this.finish(false)
  }

  private failPending(error: Error): void {
    for (const waiter of this.pending.clear()) settle(waiter).reject(error)
  }

  private sendError(): Error {
    return this.error ?? new ChannelClosedError('cannot send on a closed channel')
  }

  onData(): void {
    this.session.fail(
      new ProtocolError(`the peer sent DATA on stream ${this.id}, where only this side may send`),
    )
  }

  onEnd(): void {
    this.session.fail(
      new ProtocolError(`the peer sent END on stream ${this.id}, where only this side may send`),
    )
  }

  onReset(code: number, reason: string): void {
    if (this.state === 2) return
    this.error = resetError(code, reason, 'send')
    this.failPending(this.error)
    this.finish(false)
  }

  onCredit(increment: number): void {
    this.credit += increment
    if (this.credit > 0x7fffffff) {
      this.session.fail(
        new ProtocolError(`the peer granted more than 2^31-1 bytes of credit on stream ${this.id}`),
      )
      return
    }
    this.drain()
  }

  onSessionEnd(error: Error): void {
    if (this.state === 2) return
    this.error = error
    this.failPending(error)
    this.finish(false)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
Object.defineProperty(OutChannel.prototype, SENDER, { value: true })

interface Entry {
  value: unknown
  size: number
  refs: number
  error: Error | undefined
  /** Sockets and streams made from descriptors passed with this message: destroyed if it is never received. */
  owned?: { destroy(): void }[] | undefined
}

/** A reader waiting on an InChannel: a `receive()` call, or a `for await` step (`iterating`). */
interface Reader extends Waiter<any> {
  iterating: boolean
}

const ITERATION_DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

/** How a `for await` step ends on `error`: a ChannelClosedError is the end of the loop. */
function endOfIteration<T>(error: Error): Promise<IteratorResult<T>> {
  return error instanceof ChannelClosedError ? Promise.resolve(ITERATION_DONE) : Promise.reject(error)
}

/** The receiving end of a channel on a session. */
class InChannel<T = unknown> implements Receiver<T>, StreamEnd {
  declare readonly [RECEIVER]: true
  readonly refKind = RefKind.Receiver
  readonly exportValue = undefined
  readonly exportKind = RefKind.Receiver
  private readonly buffer = new Queue<Entry>()
  private readonly readers = new Queue<Reader>()
  /** How many more bytes the peer may send before we grant credit. */
  private window: number
  private consumed = 0
  /** 0 open, 1 ended (END or error, after the buffer), 2 cancelled. */
  private state = 0
  private error: Error | undefined
  /** Set once the stream is released from the session. */
  private released = false

  constructor(
    private readonly session: WireSession,
    readonly id: number,
    readonly imported: boolean,
  ) {
    this.window = session.limits.streamWindow
  }

  get surface(): object {
    return this
  }

  receive(options?: OperationOptions): Promise<T> {
    const entry = this.buffer.shift()
    if (entry) return this.deliver(entry)
    if (this.state !== 0) return Promise.reject(this.endError())
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal))
    return this.wait(signal, false)
  }

  /**
   * `next()` of `for await`: settles with the iterator result itself (and the end as `done`), so a
   * loop over a channel costs no `.then` per message.
   */
  private next(): Promise<IteratorResult<T>> {
    const entry = this.buffer.shift()
    if (entry) {
      this.consume(entry)
      if (entry.error) return endOfIteration(entry.error)
      return Promise.resolve({ done: false, value: entry.value as T })
    }
    if (this.state !== 0) return endOfIteration(this.endError())
    return this.wait(undefined, true)
  }

  private wait(signal: AbortSignal | undefined, iterating: boolean): Promise<any> {
    return new Promise((resolve, reject) => {
      const reader: Reader = { resolve, reject, signal, onAbort: undefined, iterating }
      this.readers.push(reader)
      listen(reader, this.readers)
    })
  }

  /** Rejects every waiting reader with `error` (a `for await` sees a ChannelClosedError as the end). */
  private failReaders(error: Error): void {
    for (const reader of this.readers.clear()) {
      settle(reader)
      if (reader.iterating && error instanceof ChannelClosedError) reader.resolve(ITERATION_DONE)
      else reader.reject(error)
    }
  }

  private deliver(entry: Entry): Promise<T> {
    this.consume(entry)
    if (entry.error) return Promise.reject(entry.error)
    return Promise.resolve(entry.value as T)
  }

  private consume(entry: Entry): void {
    if (entry.refs) this.session.pendingRefs -= entry.refs
    if (this.state !== 0) return
    this.consumed += entry.size
    if (this.consumed >= this.session.creditThreshold) {
      this.window += this.consumed
      this.session.credit(this.id, this.consumed)
      this.consumed = 0
    }
  }

  private endError(): Error {
    return this.error ?? new ChannelClosedError('the channel has ended')
  }

  cancel(): void {
    if (this.state === 2) return
    const wasOpen = this.state === 0
    this.state = 2
    this.error = new ChannelClosedError('the channel was cancelled by its receiver')
    for (const entry of this.buffer.clear()) {
      if (entry.refs) this.session.pendingRefs -= entry.refs
      if (entry.owned) for (const object of entry.owned) object.destroy()
    }
    this.failReaders(this.error)
    if (wasOpen && !this.released && !this.session.ended) {
      this.session.frame(
        FrameType.Reset,
        this.id,
        encodeCodeReason(ErrorCode.Cancel, 'the receiver stopped reading'),
      )
    }
    this.release()
  }

  private release(): void {
    if (this.released) return
    this.released = true
    this.session.release(this)
  }

  private push(entry: Entry): void {
    const reader = this.readers.shift()
    if (reader) {
      settle(reader)
      this.consume(entry)
      if (reader.iterating) {
        if (!entry.error) reader.resolve({ done: false, value: entry.value })
        else if (entry.error instanceof ChannelClosedError) reader.resolve(ITERATION_DONE)
        else reader.reject(entry.error)
      } else if (entry.error) reader.reject(entry.error)
      else reader.resolve(entry.value)
      return
    }
    this.buffer.push(entry)
  }

  onData(payload: Uint8Array): void {
    if (this.state === 2) return
    if (this.state === 1) {
      if (this.error instanceof DecodeError) return // dropped after a decode error
      this.session.fail(new ProtocolError(`the peer sent DATA on stream ${this.id} after ending it`))
      return
    }
    const size = payload.byteLength || 1
    this.window -= size
    if (this.window < -this.session.limits.maxMessageSize) {
      this.session.fail(new ProtocolError(`the peer overran the flow-control window of stream ${this.id}`))
      return
    }
    const decoded = this.session.decodeMessage(payload)
    if (decoded.error) {
      if (this.session.ended) return
      const error =
        decoded.error instanceof LibswarmError
          ? decoded.error
          : new DecodeError(String(decoded.error), { cause: decoded.error })
      this.session.forgetDecoded()
      this.push({ value: undefined, size, refs: 0, error })
      this.state = 1
      this.error = error
      this.session.frame(FrameType.Reset, this.id, encodeCodeReason(ErrorCode.Decode, error.message))
      this.release()
      return
    }
    const entry: Entry = {
      value: decoded.value,
      size,
      refs: decoded.refs,
      error: undefined,
      owned: decoded.owned,
    }
    this.session.forgetDecoded()
    this.push(entry)
  }

  onEnd(): void {
    if (this.state !== 0) return
    this.state = 1
    this.failReaders(this.endError())
    this.release()
  }

  onReset(code: number, reason: string): void {
    if (this.state !== 0) return
    this.state = 1
    this.error = resetError(code, reason, 'receive')
    this.failReaders(this.error)
    this.release()
  }

  onCredit(): void {
    this.session.fail(new ProtocolError(`the peer sent CREDIT on stream ${this.id}, which it sends on`))
  }

  onSessionEnd(error: Error): void {
    if (this.state !== 0) return
    this.state = 1
    this.error = error
    this.failReaders(error)
    this.release()
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.cancel()
    return RESOLVED
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.cancel()
        return Promise.resolve(ITERATION_DONE)
      },
    }
  }
}
Object.defineProperty(InChannel.prototype, RECEIVER, { value: true })

/**
 * The stream of a local Sender that this side sent to the peer: the peer sends on it, and each
 * message goes straight into that Sender (no queue here). Credit returns as the Sender accepts each
 * message, so its backpressure reaches the peer; when it stops accepting, the stream is cancelled.
 * Each send carries `{ peer }` (the session's {@link PeerInfo}, as the transport authenticated it),
 * which a service passes to its handlers as `context.peer`; plain channels ignore it.
 */
class ForwardChannel<T = unknown> implements StreamEnd, ClosedListener {
  readonly imported = false
  readonly refKind = RefKind.Receiver
  exportValue: object | undefined = undefined
  exportKind: RefKind = RefKind.Sender
  /** How many more bytes the peer may send before we grant credit. */
  private window: number
  private consumed = 0
  /** 0 open, 1 ended (END, RESET, a decode error or the session's end), 2 cancelled. */
  private state = 0
  private error: Error | undefined
  /** The target takes messages synchronously when it can (a pipe, a session's Sender): no promise per message. */
  private readonly fast: TrySender<T> | undefined

  constructor(
    private readonly session: WireSession,
    readonly id: number,
    private readonly target: Sender<T>,
  ) {
    this.window = session.limits.streamWindow
    if (canTrySend<T>(target)) this.fast = target
    whenClosed(target, this)
  }

  get surface(): object {
    return this
  }

  /** The message that would have announced this stream was never sent: never send on it. */
  forget(): void {
    this.state = 2
  }

  /** The target takes no more values. */
  senderClosed(): void {
    if (this.state === 0) this.cancel()
  }

  /** Returns the credit of a message the target accepted (and its references' pending count). */
  private consume(size: number, refs: number): void {
    if (refs) this.session.pendingRefs -= refs
    if (this.state !== 0) return
    this.consumed += size
    if (this.consumed >= this.session.creditThreshold) {
      this.window += this.consumed
      this.session.credit(this.id, this.consumed)
      this.consumed = 0
    }
  }

  private cancel(): void {
    if (this.state === 2) return
    const wasOpen = this.state === 0
    this.state = 2
    if (!wasOpen) return
    if (!this.session.ended) {
      this.session.frame(
        FrameType.Reset,
        this.id,
        encodeCodeReason(ErrorCode.Cancel, 'the receiver stopped reading'),
      )
    }
    this.session.release(this)
  }

  onData(payload: Uint8Array): void {
    if (this.state === 2) return
    if (this.state === 1) {
      if (this.error instanceof DecodeError) return // dropped after a decode error
      this.session.fail(new ProtocolError(`the peer sent DATA on stream ${this.id} after ending it`))
      return
    }
    const size = payload.byteLength || 1
    this.window -= size
    if (this.window < -this.session.limits.maxMessageSize) {
      this.session.fail(new ProtocolError(`the peer overran the flow-control window of stream ${this.id}`))
      return
    }
    const decoded = this.session.decodeMessage(payload)
    if (decoded.error) {
      if (this.session.ended) return
      const error =
        decoded.error instanceof LibswarmError
          ? decoded.error
          : new DecodeError(String(decoded.error), { cause: decoded.error })
      this.session.forgetDecoded()
      this.state = 1
      this.error = error
      this.session.frame(FrameType.Reset, this.id, encodeCodeReason(ErrorCode.Decode, error.message))
      this.session.release(this)
      // After the state change: a target that reports its end at once finds this stream ended.
      this.target.abort(error)
      return
    }
    const value = decoded.value as T
    const refs = decoded.refs
    const owned = decoded.owned
    this.session.forgetDecoded()
    if (this.fast) {
      let accepted: boolean
      try {
        accepted = this.fast[TRY_SEND](value)
      } catch {
        this.refused(refs, owned)
        return
      }
      if (accepted) {
        this.consume(size, refs)
        return
      }
    }
    this.target.send(value, this.session.forwardOptions).then(
      () => this.consume(size, refs),
      () => this.refused(refs, owned),
    )
  }

  /** The target refused a message: it is never received, so its references no longer wait and its passed descriptors are closed. */
  private refused(refs: number, owned: { destroy(): void }[] | undefined): void {
    if (refs) this.session.pendingRefs -= refs
    if (owned) for (const object of owned) object.destroy()
    this.cancel()
  }

  onEnd(): void {
    if (this.state !== 0) return
    this.state = 1
    this.session.release(this)
    void this.target.close()
  }

  onReset(code: number, reason: string): void {
    if (this.state !== 0) return
    this.state = 1
    this.error = resetError(code, reason, 'receive')
    this.session.release(this)
    this.target.abort(code === ErrorCode.Abort ? reason : this.error)
  }

  onCredit(): void {
    this.session.fail(new ProtocolError(`the peer sent CREDIT on stream ${this.id}, which it sends on`))
  }

  onSessionEnd(error: Error): void {
    if (this.state !== 0) return
    this.state = 1
    this.error = error
    this.session.release(this)
    this.target.abort(error)
  }
}

/** Where a byte stream's incoming bytes go. `done` returns their flow-control credit. */
interface ByteSink {
  data(chunk: Uint8Array, done: () => void): void
  end(): void
  error(error: Error): void
}

/** One byte stream on a session: either direction may carry bytes. */
class ByteStreamEnd implements StreamEnd {
  exportValue: object | undefined = undefined
  exportKind: RefKind = RefKind.Stream
  credit: number
  private window: number
  private consumed = 0
  private readonly writers = new Queue<Waiter<void>>()
  private localEnded: boolean
  private remoteEnded: boolean
  private done = false
  sink: ByteSink | undefined
  surface: object = this
  private error: Error | undefined

  constructor(
    private readonly session: WireSession,
    readonly id: number,
    readonly imported: boolean,
    readonly refKind: RefKind,
    /** This side sends bytes. */
    readonly canWrite: boolean,
    /** This side receives bytes. */
    readonly canRead: boolean,
  ) {
    this.credit = session.peerHello.streamWindow
    this.window = session.limits.streamWindow
    this.localEnded = !canWrite
    this.remoteEnded = !canRead
  }

  /** Sends bytes, waiting for credit; splits big chunks. */
  async write(chunk: Uint8Array): Promise<void> {
    let offset = this.writeNow(chunk, 0)
    while (offset < chunk.byteLength) {
      await waitOn(this.writers, undefined)
      offset = this.writeNow(chunk, offset)
    }
  }

  /**
   * Sends as much of `chunk` (from `offset`) as credit allows now, without waiting; returns how far
   * it got. The bytes are queued by reference (no copy): the caller must not change them.
   */
  writeNow(chunk: Uint8Array, offset = 0): number {
    while (offset < chunk.byteLength) {
      if (this.error) throw this.error
      if (this.localEnded) throw new ChannelClosedError('write after end of a byte stream')
      if (this.credit <= 0 || this.session.sendCredit <= 0) {
        if (this.session.sendCredit <= 0) this.session.blocked.add(this)
        return offset
      }
      const size = Math.min(chunk.byteLength - offset, MAX_BYTES_FRAME)
      const part = offset === 0 && size === chunk.byteLength ? chunk : chunk.subarray(offset, offset + size)
      this.session.frame(FrameType.Data, this.id, part, false)
      this.credit -= size
      this.session.sendCredit -= size
      offset += size
    }
    return offset
  }

  /**
   * Widens the window of the bytes this side receives from the hello's `streamWindow` to
   * `limits.byteStreamWindow`, with a CREDIT (a byte stream needs more in flight than a channel to
   * keep a fast link busy). Called once the peer knows the stream.
   */
  widenWindow(): void {
    if (!this.canRead || this.done || this.remoteEnded) return
    const extra = this.session.limits.byteStreamWindow - this.window
    if (extra <= 0) return
    this.window += extra
    this.session.credit(this.id, extra)
  }

  drain(): void {
    if (this.credit <= 0) return
    if (this.session.sendCredit <= 0) {
      this.session.blocked.add(this)
      return
    }
    for (const waiter of this.writers.clear()) settle(waiter).resolve()
  }

  end(): void {
    if (this.localEnded || this.done) return
    this.localEnded = true
    if (!this.session.ended) this.session.frame(FrameType.End, this.id)
    this.maybeRelease()
  }

  reset(error: Error | undefined): void {
    if (this.done) return
    if (!this.session.ended) {
      this.session.frame(
        FrameType.Reset,
        this.id,
        encodeCodeReason(ErrorCode.Internal, error ? error.message : 'byte stream destroyed'),
      )
    }
    this.terminate(new ChannelAbortedError(error?.message ?? 'byte stream destroyed'), false)
  }

  private terminate(error: Error, notifySink: boolean): void {
    if (this.done) return
    this.error = error
    this.done = true
    this.localEnded = true
    this.remoteEnded = true
    for (const waiter of this.writers.clear()) settle(waiter).reject(error)
    this.session.release(this)
    if (notifySink) this.sink?.error(error)
  }

  private maybeRelease(): void {
    if (this.localEnded && this.remoteEnded && !this.done) {
      this.done = true
      this.session.release(this)
    }
  }

  onData(payload: Uint8Array): void {
    if (this.done) return
    if (this.remoteEnded) {
      this.session.fail(
        new ProtocolError(
          `the peer sent DATA on byte stream ${this.id} after its END (or in the direction it may not write)`,
        ),
      )
      return
    }
    const size = payload.byteLength
    this.window -= size
    if (this.window < -this.session.limits.maxMessageSize) {
      this.session.fail(new ProtocolError(`the peer overran the flow-control window of stream ${this.id}`))
      return
    }
    const sink = this.sink
    if (!sink) return
    sink.data(payload, () => {
      if (this.done || this.remoteEnded) return
      this.consumed += size
      if (this.consumed >= this.session.byteCreditThreshold) {
        this.window += this.consumed
        this.session.credit(this.id, this.consumed)
        this.consumed = 0
      }
    })
  }

  onEnd(): void {
    if (this.done) return
    if (this.remoteEnded) {
      this.session.fail(
        new ProtocolError(`the peer ended byte stream ${this.id} twice (or a direction it may not write)`),
      )
      return
    }
    this.remoteEnded = true
    this.sink?.end()
    this.maybeRelease()
  }

  onReset(code: number, reason: string): void {
    this.terminate(resetError(code, reason, 'receive'), true)
  }

  onCredit(increment: number): void {
    this.credit += increment
    if (this.credit > 0x7fffffff) {
      this.session.fail(
        new ProtocolError(`the peer granted more than 2^31-1 bytes of credit on stream ${this.id}`),
      )
      return
    }
    this.drain()
  }

  onSessionEnd(error: Error): void {
    this.terminate(error, true)
  }
}

/** A reference to something that is already gone: sends fail, receives end, streams error. */
function deadEnd(kind: RefKind, node: NodeStreamModule | undefined, flags: number): unknown {
  const error = new ChannelClosedError('the referenced channel or stream has already been closed')
  if (kind === RefKind.Sender) {
    const sender: Sender = {
      [SENDER]: true,
      send: () => Promise.reject(error),
      close: () => RESOLVED,
      abort: () => {},
      closed: RESOLVED,
      [Symbol.asyncDispose]: () => RESOLVED,
    }
    return sender
  }
  if (kind === RefKind.Receiver) {
    const receiver: Receiver = {
      [RECEIVER]: true,
      receive: () => Promise.reject(error),
      cancel: () => {},
      [Symbol.asyncDispose]: () => RESOLVED,
      [Symbol.asyncIterator]: () => receiverIterator(receiver),
    }
    return receiver
  }
  if (node && !(kind === RefKind.Stream && flags & StreamFlags.Web)) {
    // Destroyed without an error: nobody listens yet, and an 'error' event would crash the process.
    // Readers see the stream end early (ERR_STREAM_PREMATURE_CLOSE in a pipeline).
    const stream = new node.PassThrough()
    stream.destroy()
    return stream
  }
  return new ReadableStream({ start: (controller) => controller.error(error) })
}

/** What {@link WireSession.decodeMessage} found. */
interface Decoded {
  value: unknown
  /** How many new channel ends and streams the message holds. */
  refs: number
  /** Set when the message could not be decoded. */
  error: unknown
  /** Sockets and streams made from descriptors passed with the message. */
  owned: { destroy(): void }[] | undefined
}

/** Messages, refs and pumps in flight while one message is encoded. */
interface EncodeScope {
  created: StreamEnd[]
  starts: (() => void)[]
  /** Descriptors to pass with this message's frame (fd-passing links only). */
  fds: number[]
}

/** Reference flag: the attachment went as a file descriptor with the frame (no stream; id 0). */
export const FD_PASSED = 0x80

/** The OS file descriptor of a socket or file handle, if it has one. */
function fdOf(value: unknown): number | undefined {
  const direct = (value as { fd?: unknown }).fd
  if (typeof direct === 'number' && direct >= 0) return direct
  const handleFd = (value as { _handle?: { fd?: unknown } })._handle?.fd
  return typeof handleFd === 'number' && handleFd >= 0 ? handleFd : undefined
}

type State = 'handshake' | 'open' | 'closing' | 'ended'

/** A session over one Link: the implementation behind {@link createSession}. */
export class WireSession implements Session {
  readonly limits: Required<SessionLimits>
  readonly role: 'client' | 'server'
  peerHello!: Hello
  codec = ''
  private codecInstance!: CodecInstance
  private readonly codecs: Codec[]
  node: NodeStreamModule | undefined

  /** Bytes of session credit the peer granted us. */
  sendCredit = 0
  private recvConsumed = 0
  private recvWindow: number
  creditThreshold: number
  /** A byte stream returns credit in batches of a quarter of `limits.byteStreamWindow`. */
  byteCreditThreshold: number
  readonly blocked = new Set<{ drain(): void }>()

  private readonly streams = new IdTable<StreamEnd>()
  /** The local objects sent to the peer whose streams are open, and their ids (a stream's `exportValue` is the way back). */
  private readonly exportedIds = new Map<object, number>()
  private readonly surfaces = new WeakMap<object, StreamEnd>()
  private nextId: number
  private highestLocalId = 0
  private highestPeerId = 0
  /**
   * Streams the peer itself ended, where DATA or END from it is a protocol error: the newest ids,
   * and the generation before (each holds up to PEER_FINISHED_GENERATION, so between that many
   * and twice that many are remembered).
   */
  private peerFinished = new Set<number>()
  private peerFinishedBefore: Set<number> | undefined
  pendingRefs = 0
  private readonly topLevel = new Set<OutChannel>()

  private state: State = 'handshake'
  ended = false
  private peerClosing = false
  private error: Error | undefined
  private resolveClosed!: (error: Error | undefined) => void
  readonly closed: Promise<Error | undefined>
  private closePromise: Promise<void> | undefined
  private resolveDrained: (() => void) | undefined

  private readonly incoming = new Queue<InChannel>()
  private readonly acceptors = new Queue<Waiter<Receiver>>()

  // Outgoing bytes.
  private chunks: Uint8Array[] = []
  private readonly fdChunks = new Map<Uint8Array, number[]>()
  /** True when both ends pass file descriptors (negotiated in the hellos: HELLO_PASS_FDS). */
  private passFds = false
  /** Bytes received over the link so far (to tell which frame descriptors came with). */
  private received = 0
  /** Descriptors that arrived, with the link position at the end of the read they came with. */
  private readonly fdGroups: { fds: number[]; end: number }[] = []
  /** The descriptors that came with the frame being dispatched; the message's 0x80 references take them. */
  private frameFds: number[] | undefined
  /** Sockets and streams made from passed descriptors while one message decodes. */
  private fdObjects: { destroy(): void }[] | undefined
  private nodeNet: typeof import('node:net') | undefined
  private nodeFs: typeof import('node:fs') | undefined
  private slab = new Uint8Array(SLAB_SIZE)
  private slabStart = 0
  private slabPos = 0
  private flushScheduled = false
  private linkBlocked = false

  // Incoming bytes.
  /** The start of a frame that has not fully arrived (its header, or a whole non-streamed frame). */
  private pendingIn: Uint8Array[] = []
  private pendingInSize = 0
  /** The length of the pending frame's payload, once its header is in `pendingIn`; else -1. */
  private pendingLength = -1
  /** A byte stream's DATA frame delivered as its bytes arrive: the stream and the bytes still to come. */
  private partialStream: StreamEnd | undefined
  private partialLeft = 0

  private handshakeDone: { resolve(): void; reject(error: Error): void } | undefined
  private idleTimer: unknown
  private lastReceived = Date.now()
  private pingOutstanding = false
  private signalCleanup: (() => void) | undefined
  private scope: EncodeScope | undefined
  private readonly spareScope: EncodeScope = { created: [], starts: [], fds: [] }
  private spareScopeBusy = false
  private decodingRefs = 0

  constructor(
    private readonly link: Link,
    options: SessionOptions,
  ) {
    if (options.role !== 'client' && options.role !== 'server') {
      throw new HandshakeError(
        `createSession: role must be "client" or "server", got ${String(options.role)}`,
      )
    }
    this.role = options.role
    this.limits = { ...DEFAULT_LIMITS, ...stripUndefined(options.limits ?? {}) }
    if (options.limits?.byteStreamWindow === undefined && options.limits?.streamWindow !== undefined) {
      // A caller who sized streamWindow meant it for byte streams too: keep their proportion.
      this.limits.byteStreamWindow = Math.min(0x7fffffff, 4 * this.limits.streamWindow)
    }
    validateLimits(this.limits)
    this.codecs = options.codecs?.length ? options.codecs : [msgpackCodec(), jsonCodec()]
    this.nextId = this.role === 'client' ? 1 : 2
    this.recvWindow = this.limits.sessionWindow
    this.creditThreshold = Math.max(1, Math.floor(this.limits.streamWindow / 4))
    this.byteCreditThreshold = Math.max(
      this.creditThreshold,
      Math.floor(Math.max(this.limits.byteStreamWindow, this.limits.streamWindow) / 4),
    )
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    const signal = options.signal
    if (signal) {
      const onAbort = () => this.abort(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.signalCleanup = () => signal.removeEventListener('abort', onAbort)
    }
  }

  get peer(): PeerInfo {
    return this.link.peer
  }

  private forwardOptionsMade: Readonly<OperationOptions & { peer: PeerInfo }> | undefined
  /** What a forwarded message is sent into its local Sender with: `{ peer }`, one object per session. */
  get forwardOptions(): Readonly<OperationOptions & { peer: PeerInfo }> {
    this.forwardOptionsMade ??= { peer: this.link.peer }
    return this.forwardOptionsMade
  }

  /** Runs the handshake. */
  async start(signal: AbortSignal | undefined): Promise<void> {
    this.node = await loadNodeStream()
    if (this.link.canPassFds && this.node) {
      const [net, fs] = ['node:net', 'node:fs']
      ;[this.nodeNet, this.nodeFs] = await Promise.all([
        import(/* @vite-ignore */ net) as Promise<typeof import('node:net')>,
        import(/* @vite-ignore */ fs) as Promise<typeof import('node:fs')>,
      ])
    }
    const done = new Promise<void>((resolve, reject) => (this.handshakeDone = { resolve, reject }))
    const timer = setTimeout(() => {
      this.fail(
        new LimitExceededError(
          'handshakeTimeout',
          `the session handshake did not complete within ${this.limits.handshakeTimeout} ms (limits.handshakeTimeout); is the peer a libswarm session?`,
        ),
      )
    }, this.limits.handshakeTimeout)
    unref(timer)
    this.link.start({
      data: (chunk, fds) => this.onLinkData(chunk, fds),
      end: () => this.onLinkEnd(),
      error: (error) =>
        this.fail(new SessionClosedError(`the connection failed: ${error.message}`, { cause: error })),
      drain: () => {
        this.linkBlocked = false
        this.flush()
      },
      close: () => this.fail(new SessionClosedError('the connection was closed')),
    })
    if (signal?.aborted) this.abort(signal.reason)
    if (this.role === 'client' && !this.ended) {
      this.writeRaw(
        encodeHello({
          status: HelloStatus.Ok,
          maxMessageSize: this.limits.maxMessageSize,
          streamWindow: this.limits.streamWindow,
          sessionWindow: this.limits.sessionWindow,
          codecs: this.codecs.map((c) => c.name),
          passFds: this.canPassFds(),
        }),
      )
    }
    try {
      await done
    } finally {
      clearTimeout(timer)
    }
    this.startIdleTimer()
  }

  // ---------------------------------------------------------------- the public API

  open<T = unknown>(): Sender<T> {
    if (this.ended || this.state === 'closing') {
      throw new SessionClosedError('cannot open a channel: the session is closing or closed')
    }
    if (this.peerClosing)
      throw new SessionClosedError('cannot open a channel: the peer is closing the session')
    if (this.streams.size >= this.limits.maxStreams) {
      throw new LimitExceededError(
        'maxStreams',
        `cannot open a channel: ${this.streams.size} streams are open (limits.maxStreams = ${this.limits.maxStreams})`,
      )
    }
    const id = this.allocateId()
    const channel = new OutChannel<T>(this, id, false)
    channel.topLevel = true
    this.streams.set(id, channel)
    this.topLevel.add(channel as OutChannel)
    this.frame(FrameType.Open, id, new Uint8Array([OpenKind.Channel]))
    return channel
  }

  accept<T = unknown>(options?: OperationOptions): Promise<Receiver<T>> {
    const next = this.incoming.shift()
    if (next) {
      this.pendingRefs--
      return Promise.resolve(next as unknown as Receiver<T>)
    }
    if (this.ended || this.peerClosing || this.state === 'closing') {
      return Promise.reject(
        this.error && !(this.error instanceof ChannelClosedError)
          ? this.error
          : new ChannelClosedError('the session accepts no more channels'),
      )
    }
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(abortErrorFrom(signal))
    return waitOn(this.acceptors, signal) as Promise<Receiver<T>>
  }

  [Symbol.asyncIterator](): AsyncIterator<Receiver> {
    return receiverIterator({ receive: (options) => this.accept(options), cancel: () => {} })
  }

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise
    if (this.ended) return (this.closePromise = RESOLVED)
    this.state = 'closing'
    this.frame(FrameType.GoAway, 0, encodeCodeReason(ErrorCode.NoError, 'closing'))
    this.endAccepting(new ChannelClosedError('the session is closing'))
    for (const channel of this.topLevel) void channel.close()
    this.closePromise = (async () => {
      if (this.streams.size > 0 && !this.ended) {
        const drained = new Promise<void>((resolve) => (this.resolveDrained = resolve))
        let timer: unknown
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.limits.closeTimeout)
          unref(timer)
        })
        await Promise.race([drained, timeout, this.closed])
        clearTimeout(timer as ReturnType<typeof setTimeout>)
        if (this.streams.size > 0 && !this.ended) {
          this.fail(
            new SessionClosedError(
              `close: ${this.streams.size} streams were still open after limits.closeTimeout (${this.limits.closeTimeout} ms)`,
            ),
          )
          return
        }
      }
      this.finish()
    })()
    return this.closePromise
  }

  abort(reason?: unknown): void {
    if (this.ended) return
    const message = describe(reason)
    this.fail(
      reason instanceof LibswarmError
        ? reason
        : new SessionClosedError(`the session was aborted: ${message}`, { cause: reason }),
      ErrorCode.Abort,
    )
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  // ---------------------------------------------------------------- ending

  private endAccepting(error: Error): void {
    for (const waiter of this.acceptors.clear()) settle(waiter).reject(error)
  }

  /** Graceful end: flush, end the link, resolve `closed` with undefined. */
  private finish(): void {
    if (this.ended) return
    this.ended = true
    this.state = 'ended'
    // Hand everything still queued (END frames of streams that just finished, among others) to the
    // link even while it is waiting for 'drain': end() flushes what the link holds, but frames we
    // never gave it would be lost, and the peer would see its streams cut short.
    this.linkBlocked = false
    this.flush()
    this.stopTimers()
    const error = new SessionClosedError('the session is closed')
    for (const stream of this.streams.values()) stream.onSessionEnd(error)
    this.endAccepting(new ChannelClosedError('the session is closed'))
    // Channels the peer opened and nobody accepted yet stay queued: a graceful end loses nothing,
    // so `accept()` still hands them out and what they carry can still be drained.
    try {
      this.link.end()
    } catch {}
    this.resolveClosed(undefined)
  }

  /** Ends the session with an error: every pending call rejects with it. */
  fail(error: Error, code: number = codeOf(error)): void {
    if (this.ended) return
    const inHandshake = this.state === 'handshake'
    this.ended = true
    this.state = 'ended'
    this.error = error
    this.stopTimers()
    try {
      // No frames before the handshake is done: the peer may not even speak this protocol.
      if (!inHandshake)
        this.chunks.push(
          ...this.takeSlab(),
          encodeFrameBytes(FrameType.GoAway, 0, encodeCodeReason(code, error.message)),
        )
      else this.chunks.push(...this.takeSlab())
      if (this.chunks.length) this.writeChunks()
    } catch {}
    try {
      // end() flushes the GOAWAY; destroy() follows in case the peer never closes its side.
      this.link.end()
      unref(setTimeout(() => this.link.destroy(), 2000))
    } catch {}
    for (const stream of this.streams.values()) stream.onSessionEnd(error)
    for (const channel of this.incoming.clear()) channel.onSessionEnd(error)
    this.endAccepting(error)
    if (this.handshakeDone) {
      this.handshakeDone.reject(
        error instanceof HandshakeError || error instanceof LimitExceededError
          ? error
          : new HandshakeError(
              `the session handshake failed: ${error.message}${error instanceof SessionClosedError ? `; ${REFUSED_HINT}` : ''}`,
              { cause: error },
            ),
      )
      this.handshakeDone = undefined
    }
    this.resolveClosed(error)
  }

  /** Closes descriptors that arrived but were never claimed by a message. */
  private closeStrayFds(): void {
    for (const group of this.fdGroups.splice(0)) this.closeFds(group.fds)
    if (this.frameFds) this.closeFds(this.frameFds.splice(0))
  }

  private closeFds(fds: number[]): void {
    for (const fd of fds) {
      try {
        this.nodeFs?.closeSync(fd)
      } catch {}
    }
  }

  /** This side's link passes descriptors and this runtime can open them. */
  private canPassFds(): boolean {
    return this.link.canPassFds === true && this.nodeNet !== undefined && this.nodeFs !== undefined
  }

  /**
   * Takes the descriptors that came with the frame spanning link positions [start, end): they were
   * sent with its first byte, so they arrived with the read that holds its start and no later frame's
   * (a read that carries descriptors ends within their write). Older ones were never claimed: closed.
   */
  private takeFrameFds(start: number, end: number): void {
    const groups = this.fdGroups
    while (groups.length > 0 && groups[0]!.end <= start) this.closeFds(groups.shift()!.fds)
    while (groups.length > 0 && groups[0]!.end <= end) {
      const fds = groups.shift()!.fds
      if (this.frameFds) this.frameFds.push(...fds)
      else this.frameFds = fds
    }
  }

  private stopTimers(): void {
    this.closeStrayFds()
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer as ReturnType<typeof setInterval>)
    this.signalCleanup?.()
  }

  private startIdleTimer(): void {
    const idle = this.limits.idleTimeout
    if (!idle || this.ended) return
    this.idleTimer = setInterval(
      () => {
        const silent = Date.now() - this.lastReceived
        if (silent >= idle) {
          this.fail(
            new LimitExceededError(
              'idleTimeout',
              `the peer sent nothing for ${silent} ms (limits.idleTimeout = ${idle} ms); the session was ended`,
            ),
            ErrorCode.Timeout,
          )
        } else if (silent >= idle / 3 && !this.pingOutstanding) {
          this.pingOutstanding = true
          this.frame(FrameType.Ping, 0, new Uint8Array(8))
        }
      },
      Math.max(10, Math.floor(idle / 3)),
    )
    unref(this.idleTimer)
  }

  /** Called when a stream is done both ways. */
  release(stream: StreamEnd): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id)
    if (this.blocked.size > 0) this.blocked.delete(stream as unknown as { drain(): void })
    const exported = stream.exportValue
    if (exported !== undefined) {
      stream.exportValue = undefined
      this.exportedIds.delete(exported)
    }
    if (stream instanceof OutChannel && stream.topLevel) this.topLevel.delete(stream)
    if (this.streams.size === 0 && this.resolveDrained) this.resolveDrained()
  }

  // ---------------------------------------------------------------- writing

  /** Queues one frame. `copyPayload` false keeps a reference to `payload` (it must not change). */
  frame(type: number, id: number, payload: Uint8Array = EMPTY, copyPayload = true): void {
    if (this.ended) return
    const length = payload.byteLength
    const inline = copyPayload || length <= COPY_LIMIT
    const need = FRAME_HEADER_SIZE + (inline ? length : 0)
    if (this.slab.byteLength - this.slabPos < need) {
      this.chunks.push(...this.takeSlab())
      this.slab = new Uint8Array(Math.max(SLAB_SIZE, need))
      this.slabStart = 0
      this.slabPos = 0
    }
    writeHeader(this.slab, this.slabPos, length, type, 0, id)
    this.slabPos += FRAME_HEADER_SIZE
    if (inline) {
      this.slab.set(payload, this.slabPos)
      this.slabPos += length
    } else {
      this.chunks.push(...this.takeSlab(), payload)
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      schedule(this.flushTask)
    }
  }

  private takeSlab(): Uint8Array[] {
    if (this.slabPos === this.slabStart) return []
    const part = this.slab.subarray(this.slabStart, this.slabPos)
    this.slabStart = this.slabPos
    return [part]
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false
    this.flush()
  }

  private flush(): void {
    if (this.linkBlocked) return
    const tail = this.takeSlab()
    if (tail.length) this.chunks.push(tail[0]!)
    if (this.chunks.length === 0) return
    this.writeChunks()
  }

  private writeChunks(): void {
    const chunks = this.chunks
    this.chunks = []
    if (this.fdChunks.size > 0) {
      let ok = true
      let batch: Uint8Array[] = []
      const writeBatch = () => {
        if (batch.length === 1) ok = this.link.write(batch[0]!) && ok
        else if (batch.length > 1)
          ok = (this.link.writev ? this.link.writev(batch) : batch.every((c) => this.link.write(c))) && ok
        batch = []
      }
      for (const chunk of chunks) {
        const fds = this.fdChunks.get(chunk)
        if (!fds) {
          batch.push(chunk)
          continue
        }
        writeBatch()
        this.fdChunks.delete(chunk)
        ok = this.link.write(chunk, fds) && ok
      }
      writeBatch()
      if (!ok) this.linkBlocked = true
      return
    }
    let ok: boolean
    if (chunks.length === 1) ok = this.link.write(chunks[0]!)
    else if (this.link.writev) ok = this.link.writev(chunks)
    else {
      ok = true
      for (const chunk of chunks) ok = this.link.write(chunk) && ok
    }
    if (!ok) this.linkBlocked = true
  }

  /** Writes bytes outside the frame stream (the hello). */
  private writeRaw(bytes: Uint8Array): void {
    this.chunks.push(...this.takeSlab(), bytes)
    this.flush()
  }

  /** Sends a CREDIT frame. */
  credit(id: number, increment: number): void {
    const payload = new Uint8Array(4)
    payload[0] = increment >>> 24
    payload[1] = (increment >>> 16) & 0xff
    payload[2] = (increment >>> 8) & 0xff
    payload[3] = increment & 0xff
    this.frame(FrameType.Credit, id, payload)
  }

  /** Encodes `value` and queues it as one DATA frame on `id`. Returns the flow-control cost. */
  writeMessage(id: number, value: unknown): number {
    // The outermost encode reuses one scope; one made while it is in use (an encode inside a
    // reference's start, say) gets its own.
    const spare = !this.spareScopeBusy
    const scope: EncodeScope = spare ? this.spareScope : { created: [], starts: [], fds: [] }
    this.spareScopeBusy = true
    try {
      const outer = this.scope
      this.scope = scope
      let bytes: Uint8Array
      try {
        bytes = this.codecInstance.encode(value)
        const limit = Math.min(this.peerHello.maxMessageSize, this.limits.maxMessageSize)
        if (bytes.byteLength > limit) {
          throw new LimitExceededError(
            'maxMessageSize',
            `a message of ${bytes.byteLength} bytes is larger than the limit of ${limit} bytes (limits.maxMessageSize, and the peer's); send big data as a byte stream inside the message`,
          )
        }
      } catch (error) {
        // The peer never heard of these streams: nothing may ever be sent on them.
        for (const stream of scope.created) {
          if (stream instanceof ForwardChannel) stream.forget()
          this.release(stream)
        }
        throw error
      } finally {
        this.scope = outer
      }
      if (scope.fds.length > 0) {
        // The descriptors travel with the first byte of this frame, in their own write.
        const frame = encodeFrameBytes(FrameType.Data, id, bytes)
        this.chunks.push(...this.takeSlab(), frame)
        this.fdChunks.set(frame, scope.fds)
        scope.fds = []
        if (!this.flushScheduled) {
          this.flushScheduled = true
          schedule(this.flushTask)
        }
      } else this.frame(FrameType.Data, id, bytes, true)
      const cost = bytes.byteLength || 1
      this.sendCredit -= cost
      for (const start of scope.starts) start()
      return cost
    } finally {
      if (spare) {
        // pop() rather than `length = 0`, which V8 runs as a slow call (these hold 0 or 1 items).
        while (scope.created.length > 0) scope.created.pop()
        while (scope.starts.length > 0) scope.starts.pop()
        while (scope.fds.length > 0) scope.fds.pop()
        this.spareScopeBusy = false
      }
    }
  }

  /** Called when session credit arrives: wakes the streams that waited for it. */
  private wakeBlocked(): void {
    if (this.blocked.size === 0) return
    const blocked = [...this.blocked]
    this.blocked.clear()
    for (const stream of blocked) {
      if (this.sendCredit <= 0) {
        this.blocked.add(stream)
        continue
      }
      stream.drain()
    }
  }

  private allocateId(): number {
    const id = this.nextId
    if (id > 0xfffffffd)
      throw new LimitExceededError(
        'maxStreams',
        'this session has used up its 2^32 stream ids; open a new session',
      )
    this.nextId += 2
    this.highestLocalId = id
    return id
  }

  private isLocalId(id: number): boolean {
    return (id & 1) === (this.role === 'client' ? 1 : 0)
  }

  // ---------------------------------------------------------------- references

  /** Codec hook: a local object (or one of our proxies) becomes a reference. */
  private toRef(value: object, kind: RefKind, flags: number): Ref {
    const scope = this.scope
    if (!scope) throw new ProtocolError('internal: reference outside an encode')
    // One of this session's own proxies (from a peer reference): send back the original id.
    const proxied =
      value instanceof OutChannel || value instanceof InChannel
        ? (value as StreamEnd)
        : this.surfaces.get(value)
    if (proxied?.imported && this.streams.get(proxied.id) === proxied) {
      return { kind: proxied.refKind, id: proxied.id, flags }
    }
    const known = this.exportedIds.get(value)
    if (known !== undefined && this.streams.has(known)) return { kind, id: known, flags }
    if (kind === RefKind.Attachment && this.passFds) {
      const fd = fdOf(value)
      if (fd !== undefined) {
        scope.fds.push(fd)
        return { kind, id: 0, flags: flags | FD_PASSED }
      }
    }
    if (this.streams.size >= this.limits.maxStreams) {
      throw new LimitExceededError(
        'maxStreams',
        `cannot send a channel end or stream: ${this.streams.size} streams are open (limits.maxStreams = ${this.limits.maxStreams})`,
      )
    }
    const id = this.allocateId()
    let stream: StreamEnd
    switch (kind) {
      case RefKind.Sender:
        // The peer sends; we forward into the local Sender.
        stream = new ForwardChannel(this, id, value as Sender)
        break
      case RefKind.Receiver: {
        const channel = new OutChannel(this, id, false)
        stream = channel
        scope.starts.push(() => {
          copy(channel, value as Receiver).catch(() => {})
        })
        break
      }
      case RefKind.Stream: {
        const canWrite = (flags & StreamFlags.Readable) !== 0
        const canRead = (flags & StreamFlags.Writable) !== 0
        const bytes = new ByteStreamEnd(this, id, false, kind, canWrite, canRead)
        stream = bytes
        scope.starts.push(() => {
          bytes.widenWindow()
          bindLocal(bytes, value)
        })
        break
      }
      case RefKind.Attachment: {
        const isFile = flags === AttachmentKind.File
        const bytes = new ByteStreamEnd(this, id, false, kind, true, !isFile)
        stream = bytes
        scope.starts.push(() => {
          bytes.widenWindow()
          if (isFile) bindFile(bytes, value as FileHandleLike)
          else bindLocal(bytes, value)
        })
        break
      }
      default:
        throw new ProtocolError(`internal: unknown reference kind ${kind as number}`)
    }
    this.streams.set(id, stream)
    stream.exportValue = value
    stream.exportKind = kind
    this.exportedIds.set(value, id)
    scope.created.push(stream)
    return { kind, id, flags }
  }

  /** Codec hook: a reference from the peer becomes a live object. */
  private fromRef(ref: Ref): unknown {
    const { kind, id, flags } = ref
    if (kind === RefKind.Attachment && flags & FD_PASSED) return this.passedAttachment(id, flags & ~FD_PASSED)
    if (id === 0) throw new ProtocolError('the peer referenced stream 0, which is the session itself')
    if (this.isLocalId(id)) {
      const local = this.streams.get(id)
      const value = local?.exportValue
      if (value !== undefined) {
        if (local!.exportKind !== kind) {
          throw new ProtocolError(
            `the peer referenced stream ${id} as kind ${kind}, but this side sent it as kind ${local!.exportKind}`,
          )
        }
        return value
      }
      if (id <= this.highestLocalId) return deadEnd(kind, this.node, flags)
      throw new ProtocolError(`the peer referenced stream ${id}, which this side never created`)
    }
    const existing = this.streams.get(id)
    if (existing) {
      if (existing.imported && existing.refKind === kind) return existing.surface
      throw new ProtocolError(
        `the peer referenced stream ${id} as kind ${kind}, but it is already in use otherwise`,
      )
    }
    if (id <= this.highestPeerId) return deadEnd(kind, this.node, flags)
    this.highestPeerId = id
    const refused = this.refuseReason()
    if (refused) {
      this.frame(FrameType.Reset, id, encodeCodeReason(ErrorCode.Limit, refused.message))
      throw refused
    }
    let stream: StreamEnd
    switch (kind) {
      case RefKind.Sender:
        stream = new OutChannel(this, id, true)
        break
      case RefKind.Receiver:
        stream = new InChannel(this, id, true)
        break
      case RefKind.Stream: {
        const bytes = new ByteStreamEnd(
          this,
          id,
          true,
          kind,
          (flags & StreamFlags.Writable) !== 0,
          (flags & StreamFlags.Readable) !== 0,
        )
        bytes.surface = makeProxyStream(bytes, flags, this.node)
        stream = bytes
        break
      }
      case RefKind.Attachment: {
        const isFile = flags === AttachmentKind.File
        const bytes = new ByteStreamEnd(this, id, true, kind, !isFile, true)
        bytes.surface = makeProxyStream(
          bytes,
          isFile ? StreamFlags.Readable : StreamFlags.Readable | StreamFlags.Writable,
          this.node,
        )
        stream = bytes
        break
      }
      default:
        throw new ProtocolError(`the peer sent a reference of unknown kind ${kind as number}`)
    }
    this.streams.set(id, stream)
    if (stream instanceof ByteStreamEnd) {
      this.surfaces.set(stream.surface, stream)
      stream.widenWindow()
    }
    this.decodingRefs++
    return stream.surface
  }

  /** An attachment whose descriptor came with the frame. */
  private passedAttachment(id: number, kind: number): unknown {
    if (id !== 0) throw new ProtocolError(`a passed descriptor must be referenced with id 0, got ${id}`)
    if (!this.passFds) {
      throw new ProtocolError(
        'the peer referenced a passed file descriptor, but fd passing was not negotiated',
      )
    }
    const fd = this.frameFds?.shift()
    if (fd === undefined) {
      throw new ProtocolError('a message references a passed file descriptor, but none arrived with it')
    }
    const object =
      kind === AttachmentKind.Socket
        ? new this.nodeNet!.Socket({ fd, readable: true, writable: true })
        : this.nodeFs!.createReadStream(null as unknown as string, { fd })
    this.fdObjects?.push(object)
    return object
  }

  private refuseReason(): LimitExceededError | undefined {
    if (this.streams.size >= this.limits.maxStreams) {
      return new LimitExceededError(
        'maxStreams',
        `the session has ${this.streams.size} open streams (limits.maxStreams = ${this.limits.maxStreams})`,
      )
    }
    if (this.pendingRefs + this.decodingRefs >= this.limits.maxPendingRefs) {
      return new LimitExceededError(
        'maxPendingRefs',
        `${this.pendingRefs + this.decodingRefs} channels and streams wait to be taken by the application (limits.maxPendingRefs = ${this.limits.maxPendingRefs})`,
      )
    }
    return undefined
  }

  private readonly decoded: Decoded = { value: undefined, refs: 0, error: undefined, owned: undefined }

  /**
   * Decodes one message; refs it holds are counted as pending until the application takes it. The
   * result is one object per session, overwritten by the next call: read it at once, then call
   * {@link forgetDecoded} so the session does not keep the message alive.
   */
  decodeMessage(payload: Uint8Array): Readonly<Decoded> {
    const decoded = this.decoded
    this.decodingRefs = 0
    const owned: { destroy(): void }[] | undefined = this.frameFds ? [] : undefined
    this.fdObjects = owned
    try {
      decoded.value = this.codecInstance.decode(payload)
      decoded.refs = this.decodingRefs
      decoded.error = undefined
      decoded.owned = owned?.length ? owned : undefined
      this.pendingRefs += decoded.refs
    } catch (error) {
      // Descriptors of a message that fails to decode are closed, never leaked.
      if (owned) for (const object of owned) object.destroy()
      if (error instanceof ProtocolError) this.fail(error)
      decoded.value = undefined
      decoded.refs = 0
      decoded.error = error
      decoded.owned = undefined
    } finally {
      this.decodingRefs = 0
      this.fdObjects = undefined
    }
    return decoded
  }

  /** Drops the session's hold on the last decoded message (see {@link decodeMessage}). */
  forgetDecoded(): void {
    const decoded = this.decoded
    decoded.value = undefined
    decoded.error = undefined
    decoded.owned = undefined
  }

  // ---------------------------------------------------------------- reading

  private onLinkData(chunk: Uint8Array, fds?: number[]): void {
    this.received += chunk.byteLength
    if (fds?.length) {
      if (this.ended) this.closeFds(fds)
      else this.fdGroups.push({ fds: [...fds], end: this.received })
    }
    if (this.ended) return
    // A Node Buffer's subarrays are Buffers: hand the codec plain Uint8Arrays.
    if (chunk.constructor !== Uint8Array)
      chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.lastReceived = Date.now()
    this.pingOutstanding = false
    try {
      if (this.state === 'handshake') {
        if (this.pendingInSize > 0) {
          this.pendingIn.push(chunk)
          chunk = concat(this.pendingIn, this.pendingInSize + chunk.byteLength)
          this.pendingIn = []
          this.pendingInSize = 0
        }
        const used = this.readHello(chunk)
        if (this.state === 'handshake') {
          if (used < 0) this.keep(chunk)
          return
        }
        if (used > 0) chunk = chunk.subarray(used)
      }
      this.readFrames(chunk)
    } catch (error) {
      this.fail(
        error instanceof LibswarmError
          ? error
          : new ProtocolError(`unexpected error while reading: ${describe(error)}`, { cause: error }),
      )
    }
  }

  private keep(bytes: Uint8Array): void {
    this.pendingIn = [bytes]
    this.pendingInSize = bytes.byteLength
  }

  /** Returns the bytes the hello took, or -1 if more are needed. */
  private readHello(bytes: Uint8Array): number {
    const parsed = decodeHello(bytes)
    if (!parsed) return -1
    const { hello, size } = parsed
    const ours = this.codecs.map((c) => c.name)
    const helloBase = {
      maxMessageSize: this.limits.maxMessageSize,
      streamWindow: this.limits.streamWindow,
      sessionWindow: this.limits.sessionWindow,
    }
    if (hello.version !== PROTOCOL_VERSION) {
      if (this.role === 'server')
        this.writeRaw(encodeHello({ ...helloBase, status: HelloStatus.UnsupportedVersion, codecs: ours }))
      throw new HandshakeError(
        `protocol version mismatch: the peer speaks version ${hello.version}, this side speaks version ${PROTOCOL_VERSION}; upgrade the older side`,
      )
    }
    if (this.role === 'server') {
      const chosen = hello.codecs.find((name) => ours.includes(name))
      if (!chosen) {
        this.writeRaw(encodeHello({ ...helloBase, status: HelloStatus.NoCommonCodec, codecs: ours }))
        throw new HandshakeError(
          `no common codec: the client offered [${hello.codecs.join(', ')}], this server has [${ours.join(', ')}]`,
        )
      }
      this.passFds = hello.passFds === true && this.canPassFds()
      this.writeRaw(
        encodeHello({ ...helloBase, status: HelloStatus.Ok, codecs: [chosen], passFds: this.passFds }),
      )
      this.accepted(hello, chosen)
    } else {
      if (hello.status === HelloStatus.UnsupportedVersion) {
        throw new HandshakeError(`the server refused protocol version ${PROTOCOL_VERSION}`)
      }
      if (hello.status === HelloStatus.NoCommonCodec) {
        throw new HandshakeError(
          `no common codec: this client offered [${ours.join(', ')}], the server has [${hello.codecs.join(', ')}]`,
        )
      }
      const chosen = hello.codecs[0]
      if (hello.status !== HelloStatus.Ok || hello.codecs.length !== 1 || !chosen || !ours.includes(chosen)) {
        throw new HandshakeError(
          `the server answered with an invalid hello (status ${hello.status}, codecs [${hello.codecs.join(', ')}])`,
        )
      }
      this.passFds = hello.passFds === true && this.canPassFds()
      this.accepted(hello, chosen)
    }
    return size
  }

  private accepted(hello: Hello, codecName: string): void {
    if (hello.maxMessageSize < 1024 || hello.streamWindow < 1 || hello.sessionWindow < 1) {
      throw new HandshakeError(
        `the peer announced unusable settings (maxMessageSize ${hello.maxMessageSize}, windows ${hello.streamWindow}/${hello.sessionWindow})`,
      )
    }
    this.peerHello = hello
    this.codec = codecName
    const codec = this.codecs.find((c) => c.name === codecName)!
    this.codecInstance = codec.create({
      toRef: (value, kind, flags) => this.toRef(value, kind, flags),
      fromRef: (ref) => this.fromRef(ref),
    })
    this.sendCredit = hello.sessionWindow
    this.state = 'open'
    this.handshakeDone?.resolve()
    this.handshakeDone = undefined
  }

  /**
   * Reads frames from `bytes`, the newest bytes of the link. Nothing is copied but a frame that spans
   * reads, and a byte stream's DATA frame is not even waited for: its bytes go to the stream as they
   * arrive (the stream sees the same bytes in the same order, in smaller pieces).
   */
  private readFrames(bytes: Uint8Array): void {
    const total = bytes.byteLength
    /** The link position of bytes[0] (to tell which frame passed descriptors came with). */
    const base = this.received - total
    let offset = 0
    while (offset < total && !this.ended) {
      if (this.partialLeft > 0) {
        const n = Math.min(this.partialLeft, total - offset)
        this.partialLeft -= n
        const stream = this.partialStream
        if (this.partialLeft === 0) this.partialStream = undefined
        this.receiveData(stream, bytes.subarray(offset, offset + n))
        offset += n
        continue
      }
      if (this.pendingInSize === 0) {
        offset = this.readWholeFrames(bytes, offset, base)
        continue
      }
      // A frame begun in an earlier read: complete its header, then the frame, copying only it.
      if (this.pendingLength < 0) {
        const n = Math.min(FRAME_HEADER_SIZE - this.pendingInSize, total - offset)
        this.pendingIn.push(bytes.subarray(offset, offset + n))
        this.pendingInSize += n
        offset += n
        if (this.pendingInSize < FRAME_HEADER_SIZE) return
        const head = concat(this.pendingIn, FRAME_HEADER_SIZE)
        this.pendingIn = []
        this.pendingInSize = 0
        if (this.startPartial(head, 0, 0)) continue
        this.pendingIn = [head]
        this.pendingInSize = FRAME_HEADER_SIZE
        this.pendingLength = this.checkedLength(head, 0)
      }
      const need = FRAME_HEADER_SIZE + this.pendingLength - this.pendingInSize
      if (total - offset < need) {
        this.pendingIn.push(bytes.subarray(offset))
        this.pendingInSize += total - offset
        return
      }
      this.pendingIn.push(bytes.subarray(offset, offset + need))
      const frame = concat(this.pendingIn, this.pendingInSize + need)
      const frameBase = base + offset - this.pendingInSize
      this.pendingIn = []
      this.pendingInSize = 0
      this.pendingLength = -1
      offset += need
      this.readWholeFrames(frame, 0, frameBase)
    }
  }

  /**
   * Dispatches the whole frames in `bytes` from `offset`; keeps an incomplete one for the next read
   * (or starts delivering it, for a byte stream's DATA). Returns the offset it stopped at.
   */
  private readWholeFrames(bytes: Uint8Array, offset: number, base: number): number {
    const total = bytes.byteLength
    while (!this.ended) {
      const available = total - offset
      if (available < FRAME_HEADER_SIZE) break
      const length = this.checkedLength(bytes, offset)
      if (available < FRAME_HEADER_SIZE + length) {
        const start = offset + FRAME_HEADER_SIZE
        if (this.startPartial(bytes, offset, available - FRAME_HEADER_SIZE)) return start
        this.pendingIn = [bytes.subarray(offset)]
        this.pendingInSize = available
        this.pendingLength = length
        return total
      }
      const type = bytes[offset + 4]!
      const id = frameId(bytes, offset)
      const start = offset + FRAME_HEADER_SIZE
      if (this.fdGroups.length > 0) {
        const at = base + offset
        this.takeFrameFds(at, at + FRAME_HEADER_SIZE + length)
      }
      offset = start + length
      this.dispatch(type, id, length === 0 ? EMPTY : bytes.subarray(start, offset))
      if (this.frameFds) {
        // Descriptors no reference of this frame claimed (a closed stream, a lying peer): closed.
        const rest = this.frameFds
        this.frameFds = undefined
        this.closeFds(rest)
      }
    }
    if (offset < total && !this.ended) {
      this.pendingIn = [bytes.subarray(offset)]
      this.pendingInSize = total - offset
      this.pendingLength = -1
    }
    return total
  }

  /** The payload length in the frame header at `bytes[offset]`; a ProtocolError above the limit. */
  private checkedLength(bytes: Uint8Array, offset: number): number {
    const length = frameLength(bytes, offset)
    const max = this.limits.maxMessageSize
    if (length > max) {
      throw new ProtocolError(
        `the peer sent a frame of ${length} bytes; the limit is ${max} (limits.maxMessageSize)`,
      )
    }
    return length
  }

  /**
   * The frame whose header is at `bytes[offset]` has not fully arrived. When it is DATA for a byte
   * stream, its bytes are delivered as they come: this returns true and the caller goes on from
   * the payload's first byte (`arrived` of them are at hand). Else false: the frame is kept whole.
   */
  private startPartial(bytes: Uint8Array, offset: number, arrived: number): boolean {
    const length = this.checkedLength(bytes, offset)
    if (bytes[offset + 4] !== FrameType.Data) return false
    const id = frameId(bytes, offset)
    const target = this.streams.get(id)
    if (!(target instanceof ByteStreamEnd)) return false
    if (length === 0 || arrived >= length) return false
    this.partialStream = this.stream(id, 'DATA')
    this.partialLeft = length
    return true
  }

  private dispatch(type: number, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.Data:
        this.receiveData(this.stream(id, 'DATA'), payload)
        return
      case FrameType.Open:
        this.onOpen(id, payload)
        return
      case FrameType.End: {
        if (payload.byteLength !== 0)
          throw new ProtocolError(`END frame with a ${payload.byteLength}-byte payload (must be empty)`)
        const stream = this.stream(id, 'END')
        if (stream) {
          stream.onEnd()
          this.finishedByPeer(id)
        }
        return
      }
      case FrameType.Reset: {
        if (payload.byteLength < 4) throw new ProtocolError('RESET frame shorter than its 4-byte error code')
        const { code, reason } = decodeCodeReason(payload)
        const stream = this.stream(id, 'RESET')
        if (stream) {
          stream.onReset(code, reason)
          this.finishedByPeer(id)
        }
        return
      }
      case FrameType.Credit: {
        if (payload.byteLength !== 4)
          throw new ProtocolError(`CREDIT frame with a ${payload.byteLength}-byte payload (must be 4)`)
        const increment = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0
        if (increment === 0) throw new ProtocolError('CREDIT frame with a zero increment')
        if (id === 0) {
          this.sendCredit += increment
          if (this.sendCredit > 0x7fffffff)
            throw new ProtocolError('the peer granted more than 2^31-1 bytes of session credit')
          this.wakeBlocked()
          return
        }
        this.stream(id, 'CREDIT')?.onCredit(increment)
        return
      }
      case FrameType.Ping:
        if (id !== 0 || payload.byteLength !== 8)
          throw new ProtocolError('PING must be on stream 0 with an 8-byte payload')
        this.frame(FrameType.Pong, 0, payload)
        return
      case FrameType.Pong:
        if (id !== 0 || payload.byteLength !== 8)
          throw new ProtocolError('PONG must be on stream 0 with an 8-byte payload')
        return
      case FrameType.GoAway: {
        if (id !== 0 || payload.byteLength < 4)
          throw new ProtocolError('GOAWAY must be on stream 0 with at least a 4-byte code')
        const { code, reason } = decodeCodeReason(payload)
        if (code === ErrorCode.NoError) {
          this.peerClosing = true
          this.endAccepting(new ChannelClosedError('the peer is closing the session'))
          return
        }
        if (code === ErrorCode.Protocol) {
          this.fail(new ProtocolError(`the peer reported a protocol error: ${reason}`))
        } else {
          this.fail(new SessionClosedError(`the peer ended the session: ${reason}`))
        }
        return
      }
      default:
        throw new ProtocolError(`the peer sent a frame of unknown type ${type}`)
    }
  }

  /** DATA bytes (a whole frame, or a piece of a byte stream's): session flow control, then the stream. */
  private receiveData(stream: StreamEnd | undefined, payload: Uint8Array): void {
    const length = payload.byteLength
    this.recvWindow -= length
    if (this.recvWindow < -this.limits.maxMessageSize) {
      throw new ProtocolError('the peer overran the session flow-control window')
    }
    this.recvConsumed += length
    if (this.recvConsumed >= this.limits.sessionWindow / 4) {
      this.recvWindow += this.recvConsumed
      this.credit(0, this.recvConsumed)
      this.recvConsumed = 0
    }
    stream?.onData(payload)
  }

  /** The stream for a frame; undefined for a stream that was closed; throws for one never opened. */
  private stream(id: number, what: string): StreamEnd | undefined {
    const stream = this.streams.get(id)
    if (stream) return stream
    if (id === 0) throw new ProtocolError(`the peer sent ${what} on stream 0`)
    if (
      (what === 'DATA' || what === 'END') &&
      (this.peerFinished.has(id) || this.peerFinishedBefore?.has(id))
    ) {
      throw new ProtocolError(`the peer sent ${what} on stream ${id} after it had ended that stream itself`)
    }
    const highest = this.isLocalId(id) ? this.highestLocalId : this.highestPeerId
    if (id > highest) throw new ProtocolError(`the peer sent ${what} on stream ${id}, which does not exist`)
    return undefined
  }

  /** Remembers (a bounded number of) streams the peer itself ended: DATA on them afterwards is a protocol error. */
  private finishedByPeer(id: number): void {
    if (this.streams.has(id)) return
    // Two generations instead of a ring: adding never deletes, and a full generation is dropped whole.
    if (this.peerFinished.size >= PEER_FINISHED_GENERATION) {
      this.peerFinishedBefore = this.peerFinished
      this.peerFinished = new Set()
    }
    this.peerFinished.add(id)
  }

  private onOpen(id: number, payload: Uint8Array): void {
    if (id === 0 || this.isLocalId(id)) {
      throw new ProtocolError(
        `the peer opened stream ${id}, which is not one of its ids (client ids are odd, server ids even)`,
      )
    }
    if (id <= this.highestPeerId)
      throw new ProtocolError(`the peer opened stream ${id}, but its ids must increase`)
    if (payload.byteLength !== 1 || payload[0] !== OpenKind.Channel) {
      throw new ProtocolError(`OPEN of an unknown stream kind on stream ${id}`)
    }
    this.highestPeerId = id
    if (this.state === 'closing') {
      this.frame(FrameType.Reset, id, encodeCodeReason(ErrorCode.Refused, 'the session is closing'))
      return
    }
    const refused = this.refuseReason()
    if (refused) {
      this.frame(FrameType.Reset, id, encodeCodeReason(ErrorCode.Limit, refused.message))
      return
    }
    const channel = new InChannel(this, id, false)
    this.streams.set(id, channel)
    const acceptor = this.acceptors.shift()
    if (acceptor) settle(acceptor).resolve(channel)
    else {
      this.pendingRefs++
      this.incoming.push(channel)
    }
  }

  private onLinkEnd(): void {
    if (this.ended) return
    if (this.state === 'handshake') {
      this.fail(new HandshakeError(`the peer closed the connection during the handshake: ${REFUSED_HINT}`))
      return
    }
    if (this.pendingInSize > 0 || this.partialLeft > 0) {
      // What arrived was valid as far as it went: the peer went away in the middle of a write (a
      // process killed while the kernel held part of a frame), so the connection was lost.
      this.fail(
        new SessionClosedError(
          this.partialLeft > 0
            ? `the connection ended in the middle of a frame (${this.partialLeft} bytes of it were missing): the peer went away mid-send`
            : `the connection ended in the middle of a frame (${this.pendingInSize} bytes of it arrived): the peer went away mid-send`,
        ),
      )
      return
    }
    if (this.peerClosing) {
      // The peer finished gracefully: whatever is still open was not going to be completed.
      for (const stream of this.streams.values()) {
        stream.onSessionEnd(new SessionClosedError('the peer closed the session'))
      }
      this.finish()
      return
    }
    this.fail(new SessionClosedError('the connection was closed by the peer without a goodbye (peer gone?)'))
  }
}

function codeOf(error: Error): number {
  if (error instanceof ProtocolError) return ErrorCode.Protocol
  if (error instanceof LimitExceededError) return ErrorCode.Limit
  return ErrorCode.Internal
}

function encodeFrameBytes(type: number, id: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_SIZE + payload.byteLength)
  writeHeader(bytes, 0, payload.byteLength, type, 0, id)
  bytes.set(payload, FRAME_HEADER_SIZE)
  return bytes
}

/** The payload length in the frame header at `bytes[offset]`. */
function frameLength(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0
  )
}

/** The stream id in the frame header at `bytes[offset]`. */
function frameId(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset + 6]! << 24) |
      (bytes[offset + 7]! << 16) |
      (bytes[offset + 8]! << 8) |
      bytes[offset + 9]!) >>>
    0
  )
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [key, item] of Object.entries(value))
    if (item !== undefined) (out as Record<string, unknown>)[key] = item
  return out
}

function validateLimits(limits: Required<SessionLimits>): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`limits.${name} must be a non-negative number, got ${String(value)}`)
    }
  }
  if (limits.maxMessageSize < 1024 || limits.maxMessageSize > 0x7fffffff) {
    throw new RangeError(
      `limits.maxMessageSize must be between 1024 and 2^31-1 bytes, got ${limits.maxMessageSize}`,
    )
  }
  if (limits.streamWindow < 1 || limits.streamWindow > 0x7fffffff) {
    throw new RangeError(`limits.streamWindow must be between 1 and 2^31-1 bytes, got ${limits.streamWindow}`)
  }
  if (limits.byteStreamWindow < 1 || limits.byteStreamWindow > 0x7fffffff) {
    throw new RangeError(
      `limits.byteStreamWindow must be between 1 and 2^31-1 bytes, got ${limits.byteStreamWindow}`,
    )
  }
  if (limits.sessionWindow < 1 || limits.sessionWindow > 0x7fffffff) {
    throw new RangeError(
      `limits.sessionWindow must be between 1 and 2^31-1 bytes, got ${limits.sessionWindow}`,
    )
  }
}

// ------------------------------------------------------------------ byte streams

/** Connects a local byte stream (the owner's side) to a session stream. */
function bindLocal(bytes: ByteStreamEnd, value: unknown): void {
  if (isWebReadable(value)) pumpWeb(bytes, value)
  else if (isWebWritable(value)) sinkWeb(bytes, value)
  else {
    const stream = value as Duplex
    if (bytes.canWrite) pumpNode(bytes, stream as Readable)
    if (bytes.canRead) sinkNode(bytes, stream as Writable)
  }
}

/**
 * Sends a Node Readable's bytes. It flows ('data' events, as `pipe` reads) rather than being iterated:
 * an iterator's `read()` concatenates what the source buffered (a copy per byte), 'data' hands over
 * each chunk as pushed. The source pauses while the stream waits for credit.
 */
function pumpNode(bytes: ByteStreamEnd, source: Readable): void {
  let settled = false
  const fail = (error: unknown) => {
    if (settled) return
    settled = true
    bytes.reset(error as Error)
    if (!source.destroyed) source.destroy()
  }
  source.on('data', (chunk: Uint8Array | string) => {
    if (settled) return
    const data = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk
    let offset: number
    try {
      offset = bytes.writeNow(data, 0)
    } catch (error) {
      fail(error)
      return
    }
    if (offset >= data.byteLength) return
    source.pause()
    writing = bytes.write(data.subarray(offset)).then(() => {
      writing = undefined
      if (settled) return
      if (sourceEnded) finish()
      else source.resume()
    }, fail)
  })
  // A paused source still ends once it has handed over its last chunk: END waits for that chunk.
  let writing: Promise<void> | undefined
  let sourceEnded = false
  const finish = () => {
    if (settled) return
    settled = true
    bytes.end()
  }
  source.on('end', () => {
    sourceEnded = true
    if (!writing) finish()
  })
  source.on('error', fail)
  source.on('close', () => {
    if (!settled && !sourceEnded) fail(new Error('the byte stream source closed before its end'))
  })
  // Flow even a source paused before (a socket accepted with pauseOnConnect), as `pipe` does.
  source.resume()
}

function sinkNode(bytes: ByteStreamEnd, target: Writable): void {
  bytes.sink = {
    data: (chunk, done) => {
      target.write(chunk, () => done())
    },
    end: () => target.end(),
    error: (error) => destroyQuietly(target, error),
  }
  target.on('error', (error) => bytes.reset(error))
}

function pumpWeb(bytes: ByteStreamEnd, source: ReadableStream<Uint8Array>): void {
  ;(async () => {
    const reader = source.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        await bytes.write(value)
      }
      bytes.end()
    } catch (error) {
      bytes.reset(error as Error)
      reader.cancel(error).catch(() => {})
    }
  })()
}

function sinkWeb(bytes: ByteStreamEnd, target: WritableStream<Uint8Array>): void {
  const writer = target.getWriter()
  bytes.sink = {
    data: (chunk, done) => {
      writer.write(chunk).then(done, (error) => bytes.reset(error as Error))
    },
    end: () => {
      writer.close().catch(() => {})
    },
    error: (error) => {
      writer.abort(error).catch(() => {})
    },
  }
}

function bindFile(bytes: ByteStreamEnd, handle: FileHandleLike): void {
  const withStreams = handle as FileHandleLike & {
    createReadStream?: (options?: { autoClose?: boolean }) => Readable
    readableWebStream?: () => ReadableStream<Uint8Array>
  }
  if (typeof withStreams.createReadStream === 'function') {
    pumpNode(bytes, withStreams.createReadStream({ autoClose: false }))
  } else if (typeof withStreams.readableWebStream === 'function') {
    pumpWeb(bytes, withStreams.readableWebStream())
  } else {
    bytes.reset(new Error('this file handle cannot be read as a stream'))
  }
}

/**
 * Destroys a Node stream with `error` only if someone listens for errors: a stream the application
 * holds but never attached to must not crash the process with an unhandled 'error' event.
 */
function destroyQuietly(stream: Readable | Writable, error: Error): void {
  if (stream.destroyed) return
  if (stream.listenerCount('error') > 0) stream.destroy(error)
  else stream.destroy()
}

/** Makes the object the receiving application gets for a byte stream reference. */
function makeProxyStream(bytes: ByteStreamEnd, flags: number, node: NodeStreamModule | undefined): object {
  const readable = (flags & StreamFlags.Readable) !== 0
  const writable = (flags & StreamFlags.Writable) !== 0
  if (flags & StreamFlags.Web || !node) {
    if (readable) {
      let deferred: (() => void)[] = []
      return new ReadableStream<Uint8Array>(
        {
          start(controller) {
            bytes.sink = {
              data(chunk, done) {
                controller.enqueue(chunk)
                if ((controller.desiredSize ?? 1) > 0) done()
                else deferred.push(done)
              },
              end: () => controller.close(),
              error: (error) => controller.error(error),
            }
          },
          pull() {
            const waiting = deferred
            deferred = []
            for (const done of waiting) done()
          },
          cancel(reason) {
            bytes.reset(reason instanceof Error ? reason : new Error(describe(reason)))
          },
        },
        { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
      )
    }
    return new WritableStream<Uint8Array>({
      write: (chunk) => bytes.write(chunk),
      close: () => bytes.end(),
      abort: (reason) => bytes.reset(reason instanceof Error ? reason : new Error(describe(reason))),
    })
  }
  // Bytes wait here (without their credit returned) until the Readable wants more: one chunk is
  // pushed at a time, so a consumer's read() takes each as it came instead of concatenating several.
  const queued = new Queue<{ chunk: Uint8Array; done: () => void }>()
  let ended = false
  /** The Readable asked for bytes (`read`) and none were queued: the next chunk goes straight in. */
  let wanted = false
  let target: Readable | undefined
  let pushScheduled = false
  const pushOne = () => {
    pushScheduled = false
    const next = queued.shift()
    if (next) {
      next.done()
      target!.push(next.chunk)
    } else if (ended) {
      ended = false
      target!.push(null)
    } else wanted = true
  }
  const read = () => {
    // Readable.read() calls this before it takes what is buffered, and takes it all (concatenated):
    // push now only into an empty buffer, else once this read() has returned.
    if (target!.readableLength === 0) pushOne()
    else if (!pushScheduled) {
      pushScheduled = true
      queueMicrotask(pushOne)
    }
  }
  const write = (chunk: Uint8Array, _encoding: string, callback: (error?: Error | null) => void) => {
    let offset: number
    try {
      offset = bytes.writeNow(chunk, 0)
    } catch (error) {
      callback(error as Error)
      return
    }
    if (offset >= chunk.byteLength) callback()
    else bytes.write(chunk.subarray(offset)).then(() => callback(), callback)
  }
  const final = (callback: (error?: Error | null) => void) => {
    bytes.end()
    callback()
  }
  const destroy = (error: Error | null, callback: (error?: Error | null) => void) => {
    bytes.reset(error ?? undefined)
    callback(error)
  }
  let stream: Duplex | Readable | Writable
  if (readable && writable) stream = new node.Duplex({ read, write, final, destroy })
  else if (readable) stream = new node.Readable({ read, destroy })
  else stream = new node.Writable({ write, final, destroy })
  if (readable) {
    const readableTarget = stream as Readable
    target = readableTarget
    bytes.sink = {
      data(chunk, done) {
        if (queued.length > 0 || !(wanted || readableTarget.readableLength === 0)) {
          queued.push({ chunk, done })
          return
        }
        wanted = false
        done()
        readableTarget.push(chunk)
      },
      end: () => {
        if (queued.length > 0) ended = true
        else readableTarget.push(null)
      },
      error: (error) => destroyQuietly(readableTarget, error),
    }
  }
  return stream
}

/**
 * Runs a session over `link`: the handshake (magic, version, codec), then frames. Resolves once the
 * handshake is done; rejects with HandshakeError (or LimitExceededError for `handshakeTimeout`).
 *
 * @example
 * const session = await createSession(link, { role: 'client' })
 * const tx = session.open<string>()
 * await tx.send('hello')
 */
export async function createSession(link: Link, options: SessionOptions): Promise<Session> {
  const session = new WireSession(link, options)
  await session.start(options.signal)
  return session
}
