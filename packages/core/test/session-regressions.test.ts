/**
 * Regression tests for the per-stream bookkeeping rework (7460a4c, a3f3acb, 0142dfa, 39ffb54), for
 * three behaviours that were only checked with scratch scripts:
 *
 * 1. A message that fails to encode after a Sender in it was registered: closing that Sender later
 *    sends nothing on the stream the peer never heard of, so the session stays up (7460a4c).
 * 2. DATA on a stream the peer itself ended is a protocol error even after thousands of later
 *    streams finished: the finished ids live in two generations of 4 096 (7460a4c).
 * 3. A reply forwarded into a local Sender that fails to decode is reported as a decode error: the
 *    peer gets RESET code 6, not a cancel (0142dfa), and the local receiver a ChannelAbortedError
 *    whose reason is the decode error, never ChannelClosedError.
 *
 * Cases 2 and 3 drive a real server session from a client written by hand (raw frames over a link
 * pair), as the transport-compliance suite does.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  ChannelAbortedError,
  ChannelClosedError,
  createSession,
  DecodeError,
  decodeCodeReason,
  decodeHello,
  EncodeError,
  ErrorCode,
  encodeFrame,
  encodeHello,
  FRAME_HEADER_SIZE,
  FrameType,
  LimitExceededError,
  linkPair,
  msgpackCodec,
  ProtocolError,
  pipe,
  type Receiver,
  type Ref,
  RefKind,
  type Sender,
  type Session,
  type SessionOptions,
} from '../src/index.ts'
import { bounded, pairSessions } from './session-helpers.ts'

/** Sessions a test made: aborted after it, whatever happened. */
const live: Session[] = []
afterEach(() => {
  for (const session of live.splice(0)) session.abort('test over')
})

/** True when `session` has already ended (its `closed` settles within one turn of the event loop). */
async function hasEnded(session: Session): Promise<boolean> {
  let ended = false
  void session.closed.then(() => {
    ended = true
  })
  await new Promise((resolve) => setImmediate(resolve))
  return ended
}

/** `promise`, or a rejection once `signal` aborts. */
function within<T>(promise: Promise<T>, signal = AbortSignal.timeout(5000)): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** The msgpack codec as the raw client uses it: a reference decodes to its `Ref`. */
const rawCodec = msgpackCodec().create({
  toRef: () => {
    throw new Error('the raw client sends no references')
  },
  fromRef: (ref) => ({ ...ref }),
})

interface Frame {
  type: number
  id: number
  payload: Uint8Array
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0))
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/**
 * A client written by hand on one end of a link pair, against a real server session on the other.
 * It writes whatever frames a test gives it and parses every frame the server sends.
 */
async function rawClient(options: Omit<SessionOptions, 'role'> = {}) {
  const [raw, serverLink] = linkPair()
  const frames: Frame[] = []
  const listeners = new Set<() => void>()
  let pending: Uint8Array = new Uint8Array(0)
  let helloDone = false
  raw.start({
    data(chunk) {
      pending = concat([pending, chunk])
      if (!helloDone) {
        const hello = decodeHello(pending)
        if (!hello) return
        pending = pending.subarray(hello.size)
        helloDone = true
      }
      while (pending.byteLength >= FRAME_HEADER_SIZE) {
        const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength)
        const end = FRAME_HEADER_SIZE + view.getUint32(0)
        if (pending.byteLength < end) break
        frames.push({
          type: pending[4]!,
          id: view.getUint32(6),
          payload: pending.slice(FRAME_HEADER_SIZE, end),
        })
        pending = pending.subarray(end)
      }
      for (const listener of [...listeners]) listener()
    },
    end() {},
    error() {},
    drain() {},
    close() {},
  })
  raw.write(
    encodeHello({
      status: 0,
      maxMessageSize: 16 * 1024 * 1024,
      streamWindow: 256 * 1024,
      sessionWindow: 4 * 1024 * 1024,
      codecs: ['msgpack'],
    }),
  )
  const server = await createSession(serverLink, { ...options, role: 'server' })
  live.push(server)

  /** The first frame the server sent that `match` accepts, waiting for it up to 5 s. */
  const next = (match: (frame: Frame) => boolean, signal = AbortSignal.timeout(5000)): Promise<Frame> =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const found = frames.find(match)
        if (!found) return
        cleanup()
        resolve(found)
      }
      const onAbort = () => {
        cleanup()
        reject(signal.reason)
      }
      const cleanup = () => {
        listeners.delete(check)
        signal.removeEventListener('abort', onAbort)
      }
      listeners.add(check)
      signal.addEventListener('abort', onAbort, { once: true })
      check()
    })

  let pings = 0
  return {
    server,
    frames,
    write: (...chunks: Uint8Array[]) => void raw.write(concat(chunks)),
    next,
    /**
     * A PING and its PONG: the server handled everything written before, and every frame it wrote
     * meanwhile has arrived (it writes in order).
     */
    async sync(): Promise<void> {
      const token = new Uint8Array(8)
      new DataView(token.buffer).setUint32(4, ++pings)
      raw.write(encodeFrame(FrameType.Ping, 0, token))
      await next((f) => f.type === FrameType.Pong && f.payload.every((byte, i) => byte === token[i]))
    },
  }
}

describe('a message that fails to encode after a Sender in it was registered', () => {
  // The encoder registers the Sender (a new stream, id 3) when it reaches it, then meets the value it
  // cannot encode. The peer never hears of stream 3. Before 7460a4c the stream stayed live, so
  // closing the Sender later sent RESET on stream 3: a stream above every id the client announced,
  // which the server ends the session for ("a stream that does not exist", ProtocolError). With the
  // `stream.forget()` in writeMessage's catch removed (a scratch copy of session.ts), and against
  // the whole source of 7460a4c^ or a3f3acb^, the `rx.receive` of 'after' below rejects with the
  // server's "the peer sent RESET on stream 3, which does not exist" and every case fails.
  const cases = [
    { what: 'a function', bad: () => 'not data', error: EncodeError, limits: {} },
    { what: 'a symbol', bad: Symbol('not data'), error: EncodeError, limits: {} },
    {
      what: 'bytes over maxMessageSize',
      bad: new Uint8Array(4096),
      error: LimitExceededError,
      limits: { maxMessageSize: 1024 },
    },
  ]

  it.each(cases)(
    '($what) rejects the send; closing the Sender later leaves the session up',
    async ({ bad, error, limits }) => {
      const [client, server] = await pairSessions({ limits })
      live.push(client, server)
      type Message = string | { reply: Sender<string>; bad?: unknown }
      const tx = client.open<Message>()
      await tx.send('first')
      const rx = await server.accept<Message>(bounded())
      expect(await rx.receive(bounded())).toBe('first')

      const [answers, reply] = pipe<string>()
      // `reply` comes before `bad` in the object, so it is registered before the encoder fails.
      await expect(tx.send({ reply, bad })).rejects.toBeInstanceOf(error)
      // Nothing with a higher client id goes out before this close: with the old bug its RESET would
      // name a stream the server never heard of.
      await reply.close()
      await expect(answers.receive(bounded())).rejects.toBeInstanceOf(ChannelClosedError)

      // The server read past the place where that RESET would have been.
      await tx.send('after')
      expect(await rx.receive(bounded())).toBe('after')

      // A request with a new return Sender on the same channel, and a new channel each way.
      const [answers2, reply2] = pipe<string>()
      await tx.send({ reply: reply2 })
      const request = (await rx.receive(bounded())) as { reply: Sender<string> }
      await request.reply.send('answer')
      await request.reply.close()
      expect(await answers2.receive(bounded())).toBe('answer')
      const up = client.open<string>()
      await up.send('new channel up')
      expect(await (await server.accept<string>(bounded())).receive(bounded())).toBe('new channel up')
      const down = server.open<string>()
      await down.send('new channel down')
      expect(await (await client.accept<string>(bounded())).receive(bounded())).toBe('new channel down')

      expect(await hasEnded(server)).toBe(false)
      expect(await hasEnded(client)).toBe(false)
    },
  )
})

describe('DATA on a stream the peer itself ended, after thousands of later streams', () => {
  // PROTOCOL.md §2: receivers remember at least the last 4 096 such ids. Since 7460a4c the server
  // keeps them in two generations of PEER_FINISHED_GENERATION (4 096) ids: when the newest is full,
  // the next id starts a new one and the older one is dropped whole. So an id is remembered until
  // the generation after its own has filled: for 4 096 later ids when it was the last id of its
  // generation (the worst case), for 8 191 when it was the first.
  //
  // Every case puts the target in the OLDER generation when its DATA comes, so each fails if the
  // lookup misses that generation (`peerFinishedBefore`), if a full generation is cleared instead of
  // kept, or if a generation holds fewer than 4 096 ids (all three checked by editing a scratch copy
  // of session.ts). The first case is exactly what PROTOCOL.md asks (the target is among the last
  // 4 096); the other two pin what the generations give beyond it: more than 4 096 later streams,
  // at the worst alignment and at the best. The ring of 4 096 ids before 7460a4c, which met the
  // spec, fails those two. One more later stream in the second case (4 097), or 8 192 in the third,
  // and the target is legitimately forgotten (its DATA ignored): checked by hand, not asserted.
  const GENERATION = 4096
  const cases = [
    { where: 'the last id of a generation', before: GENERATION - 1, after: GENERATION - 1 },
    { where: 'the last id of a generation', before: GENERATION - 1, after: GENERATION },
    { where: 'the first id of a generation', before: 0, after: 2 * GENERATION - 1 },
  ]

  it.each(cases)(
    '($where, then $after more streams finished) is a protocol error',
    async ({ before, after }) => {
      const { server, write, next } = await rawClient()
      const finished: Uint8Array[] = []
      const openAndEnd = (id: number) =>
        finished.push(encodeFrame(FrameType.Open, id, new Uint8Array([1])), encodeFrame(FrameType.End, id))
      // Client ids are odd: the n-th stream (from 1) is 2n - 1.
      let id = 1
      for (let n = 0; n < before; n++, id += 2) openAndEnd(id)
      const target = id
      openAndEnd(target)
      id += 2
      for (let n = 0; n < after; n++, id += 2) openAndEnd(id)
      write(...finished)
      // Then a PING: a server that forgot the target ignores the DATA and answers it.
      write(
        encodeFrame(FrameType.Data, target, rawCodec.encode('late')),
        encodeFrame(FrameType.Ping, 0, new Uint8Array(8)),
      )

      const answer = await next((f) => f.type === FrameType.GoAway || f.type === FrameType.Pong)
      expect(answer.type, 'the server answered the PING: it had forgotten the target').toBe(FrameType.GoAway)
      expect(decodeCodeReason(answer.payload).code).toBe(ErrorCode.Protocol)
      const error = await within(server.closed)
      expect(error).toBeInstanceOf(ProtocolError)
      expect((error as Error).message).toContain(
        `DATA on stream ${target} after it had ended that stream itself`,
      )
    },
  )
})

describe('a forwarded reply that fails to decode', () => {
  // 0142dfa: the forwarding stream must end itself (and send RESET DECODE) before it aborts its
  // target. A pipe reports its end synchronously, so with the target aborted first the stream saw
  // its Sender close, cancelled itself and sent RESET CANCEL first: the peer learnt
  // ChannelClosedError instead of DecodeError. With the hunk reverted (`this.target.abort(error)`
  // moved back above the state change), the raw peer gets RESETs [2, 6] instead of [6], and the
  // real peer's next send rejects with ChannelClosedError: both tests below fail (also against the
  // whole source of 0142dfa^ and 7460a4c^; they pass against a3f3acb^, before the bug came in).
  //
  // The local receiver is fed through the pipe's `abort(reason)`, so its `receive()` rejects with a
  // ChannelAbortedError whose `reason` is the decode error (as before a3f3acb too), not with a bare
  // DecodeError, and never with ChannelClosedError.

  it('is RESET with code 6 for the peer; the local receiver rejects with the DecodeError as reason', async () => {
    const { server, frames, write, next, sync } = await rawClient()
    const tx = server.open<{ reply: Sender<string> }>()
    const [answers, reply] = pipe<string>()
    await tx.send({ reply })
    const open = await next((f) => f.type === FrameType.Open)
    const request = await next((f) => f.type === FrameType.Data && f.id === open.id)
    const ref = (rawCodec.decode(request.payload) as { reply: Ref }).reply
    expect(ref.kind).toBe(RefKind.Sender)

    // A good reply first: the stream forwards into the local Sender.
    write(encodeFrame(FrameType.Data, ref.id, rawCodec.encode('first')))
    expect(await answers.receive(bounded())).toBe('first')

    // 0xc1 is the one byte msgpack never uses.
    write(encodeFrame(FrameType.Data, ref.id, new Uint8Array([0xc1])))
    const error = await answers.receive(bounded()).catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(ChannelClosedError)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect((error as ChannelAbortedError).reason).toBeInstanceOf(DecodeError)

    await sync()
    const resets = frames.filter((f) => f.type === FrameType.Reset && f.id === ref.id)
    expect(resets.map((f) => decodeCodeReason(f.payload).code)).toEqual([ErrorCode.Decode])

    // The session is up: more DATA on that stream crossed the RESET and is ignored, and a new
    // channel carries a message.
    write(encodeFrame(FrameType.Data, ref.id, rawCodec.encode('dropped')))
    write(encodeFrame(FrameType.Open, 1, new Uint8Array([1])))
    write(encodeFrame(FrameType.Data, 1, rawCodec.encode('still up')))
    const rx = await server.accept<string>(bounded())
    expect(await rx.receive(bounded())).toBe('still up')
    expect(await hasEnded(server)).toBe(false)
  })

  it('between two sessions (over maxPendingRefs): the replying side sees DecodeError, not ChannelClosedError', async () => {
    // The requesting side takes at most one pending reference; a reply with two new Receivers in it
    // fails to decode there.
    const [client, server] = await pairSessions({ limits: { maxPendingRefs: 1 } })
    live.push(client, server)
    const tx = client.open<{ reply: Sender<unknown> }>()
    const [answers, reply] = pipe<unknown>()
    await tx.send({ reply })
    const rx = await server.accept<{ reply: Sender<unknown> }>(bounded())
    const { reply: remoteReply } = await rx.receive(bounded())

    const [first] = pipe<string>()
    const [second] = pipe<string>()
    await remoteReply.send({ first, second })
    const error = await answers.receive(bounded()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect((error as ChannelAbortedError).reason).toBeInstanceOf(LimitExceededError)

    await within(remoteReply.closed)
    await expect(remoteReply.send('again')).rejects.toBeInstanceOf(DecodeError)

    // Other channels carry on, both ways.
    await tx.send({ reply: pipe<unknown>()[1] })
    expect(await rx.receive(bounded())).toHaveProperty('reply')
    const down = server.open<string>()
    await down.send('still up')
    const back: Receiver<string> = await client.accept<string>(bounded())
    expect(await back.receive(bounded())).toBe('still up')
    expect(await hasEnded(client)).toBe(false)
  })
})
