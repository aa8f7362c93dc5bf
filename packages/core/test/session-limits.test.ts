import { describe, expect, it } from 'vitest'
import {
  connect,
  InvalidArgumentError,
  jsonCodec,
  LimitExceededError,
  listen,
  pipe,
  type Receiver,
  type Sender,
  SessionClosedError,
  type Transport,
  UnavailableError,
} from '../src/index.ts'
import { bounded, pairSessions } from './session-helpers.ts'

describe('session limits and timers', () => {
  it('keepalive: an idle session whose peer answers pings stays up past idleTimeout', async () => {
    const [client, server] = await pairSessions(
      { limits: { idleTimeout: 150 } },
      { limits: { idleTimeout: 150 } },
    )
    const outcome = await Promise.race([client.closed, new Promise((r) => setTimeout(r, 600, 'alive'))])
    expect(outcome).toBe('alive')
    const tx = client.open<string>()
    await tx.send('after a quiet spell')
    expect(await (await server.accept<string>(bounded())).receive(bounded())).toBe('after a quiet spell')
    client.abort('done')
  })

  it('maxPendingRefs: channels nobody accepts beyond the limit are refused', async () => {
    const [client, server] = await pairSessions({}, { limits: { maxPendingRefs: 3 } })
    const senders = Array.from({ length: 5 }, () => client.open<number>())
    for (const tx of senders) await tx.send(1).catch(() => {})
    const refused = senders.slice(3)
    for (const tx of refused) await tx.closed
    for (const tx of refused) {
      const error = await tx.send(2).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LimitExceededError)
      expect((error as Error).message).toMatch(/maxPendingRefs/)
    }
    for (let i = 0; i < 3; i++)
      expect(await (await server.accept<number>(bounded())).receive(bounded())).toBe(1)
    client.abort('done')
  })

  it('maxPendingRefs also counts channel ends inside messages not yet received', async () => {
    const [client, server] = await pairSessions({}, { limits: { maxPendingRefs: 4 } })
    const tx = client.open<{ ends: Sender<number>[] }>()
    // One pending accept (1) + 3 ends = 4: the message with a 4th end fails to decode on that channel only.
    const ends = () => Array.from({ length: 3 }, () => pipe<number>()[1])
    await tx.send({ ends: ends() })
    await tx.send({ ends: ends() })
    const rx = await server.accept<{ ends: Sender<number>[] }>(bounded())
    expect((await rx.receive(bounded())).ends).toHaveLength(3)
    const error = await rx.receive(bounded()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LimitExceededError)
    expect((error as Error).message).toMatch(/maxPendingRefs/)
    // That channel is errored; the session is not: a new channel with 3 ends passes.
    const tx2 = client.open<{ ends: Sender<number>[] }>()
    await tx2.send({ ends: ends() })
    const rx2 = await server.accept<{ ends: Sender<number>[] }>(bounded())
    expect((await rx2.receive(bounded())).ends).toHaveLength(3)
    client.abort('done')
  })

  it('maxStreams: open() beyond the limit throws LimitExceededError', async () => {
    const [client] = await pairSessions({ limits: { maxStreams: 2 } })
    client.open()
    client.open()
    expect(() => client.open()).toThrow(LimitExceededError)
    client.abort('done')
  })

  it('closeTimeout: a close that waits on a stream nobody finishes becomes an abort', async () => {
    const [client, server] = await pairSessions({ limits: { closeTimeout: 200 } })
    const back = server.open<number>() // the server never closes it
    await client.accept(bounded())
    const started = Date.now()
    await client.close()
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    expect(await client.closed).toBeInstanceOf(SessionClosedError)
    void back
  })

  it('the signal option aborts the session', async () => {
    const controller = new AbortController()
    const [client, server] = await pairSessions({ signal: controller.signal })
    const rx = server.open<number>()
    const crx = await client.accept<number>(bounded())
    const waiting = crx.receive().catch((e: unknown) => e)
    controller.abort('no longer needed')
    expect(await waiting).toBeInstanceOf(SessionClosedError)
    expect(await server.closed).toBeInstanceOf(SessionClosedError)
    void rx
  })

  it('bad limits are a RangeError that names the option', async () => {
    await expect(pairSessions({ limits: { maxMessageSize: 10 } })).rejects.toThrow(/limits.maxMessageSize/)
    await expect(pairSessions({ limits: { streamWindow: -1 } })).rejects.toThrow(/limits.streamWindow/)
  })

  it('the json codec carries nested ends and streams too', async () => {
    const [client, server] = await pairSessions({ codecs: [jsonCodec()] })
    expect(client.codec).toBe('json')
    const [answers, reply] = pipe<string>()
    const tx = client.open<{ reply: Sender<string>; $weird: number }>()
    await tx.send({ reply, $weird: 1 })
    const got = await (await server.accept<{ reply: Sender<string>; $weird: number }>(bounded())).receive(
      bounded(),
    )
    expect(got.$weird).toBe(1)
    await got.reply.send('json ok')
    expect(await answers.receive(bounded())).toBe('json ok')
    client.abort('done')
  })
})

describe('memory:// and connect/listen', () => {
  it('passes messages and the ends inside them by reference', async () => {
    await using listener = await listen('memory://by-reference')
    const accepted = listener.accept(bounded())
    const client = await connect('memory://by-reference')
    const server = await accepted
    expect(client.codec).toBe('memory')
    const [, reply] = pipe<string>()
    const message = { reply, nested: { list: [1, 2] } }
    const tx = client.open<typeof message>()
    await tx.send(message)
    const rx: Receiver<typeof message> = await server.accept(bounded())
    const got = await rx.receive(bounded())
    expect(got).toBe(message)
    expect(got.reply).toBe(reply)
    await client.close()
    await expect(server.accept(bounded())).rejects.toThrow()
  })

  it('aborting a memory session rejects pending calls with SessionClosedError', async () => {
    await using listener = await listen('memory://abort-me')
    const accepted = listener.accept(bounded())
    const client = await connect('memory://abort-me')
    const server = await accepted
    const tx = client.open<number>()
    const rx = await server.accept<number>(bounded())
    const waiting = rx.receive().catch((e: unknown) => e)
    client.abort('bye')
    expect(await waiting).toBeInstanceOf(SessionClosedError)
    expect(await server.closed).toBeInstanceOf(SessionClosedError)
    await expect(tx.send(1)).rejects.toBeInstanceOf(SessionClosedError)
  })

  it('a connect to a listener whose backlog is full can be given up with a signal', async () => {
    await using listener = await listen('memory://busy', { backlog: 1 })
    await connect('memory://busy')
    const error = await connect('memory://busy', { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e)
    expect((error as Error).name).toBe('TimeoutError')
    await listener.accept(bounded())
  })

  it('a wire connect whose handshake never completes is given up with its signal', async () => {
    const { linkPair } = await import('../src/index.ts')
    const silent: Transport = {
      name: 'silent',
      schemes: ['silent'],
      dial: async () => linkPair()[0], // nobody at the other end ever answers the hello
      listen: () => Promise.reject(new Error('not used')),
    }
    const error = await connect('silent://nowhere', {
      transports: [silent],
      signal: AbortSignal.timeout(50),
    }).catch((e: unknown) => e)
    expect((error as Error).name).toBe('TimeoutError')
  })

  it('says clearly what is wrong with a URL or a missing transport', async () => {
    await expect(connect('memory://nobody-here')).rejects.toBeInstanceOf(UnavailableError)
    await expect(connect('tcp://127.0.0.1:1')).rejects.toThrow(/no transport for "tcp:\/\/"/)
    await expect(connect('not a url')).rejects.toBeInstanceOf(InvalidArgumentError)
    await using listener = await listen('memory://taken')
    await expect(listen('memory://taken')).rejects.toThrow(/already in use/)
    await expect(listen('memory://taken')).rejects.toBeInstanceOf(UnavailableError)
    await listener.close()
    await expect(connect('memory://taken')).rejects.toBeInstanceOf(UnavailableError)
  })
})
