import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { scenarios } from '@libswarm/adapter-compliance'
import { type BackendContext, isByteStream, type Message, pipe, type Service } from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import { backend, debugService, parseDebugArgs } from '../src/index.ts'

const timeout = () => ({ signal: AbortSignal.timeout(5000) })

/** A next stage: Ls answers Set [a, b]; Attach answers Ack with a child that acks Start; Watch streams. */
function nextStage(): { service: Service; seen: Message[] } {
  const seen: Message[] = []
  const [requests, service] = pipe<Message>()
  const child = (): Service => {
    const [childRequests, childService] = pipe<Message>()
    void (async () => {
      for await (const message of childRequests) {
        seen.push(message)
        await message.ret?.send({ verb: 'Ack', args: ['child'] })
        await message.ret?.close()
      }
    })()
    return childService
  }
  void (async () => {
    for await (const message of requests) {
      seen.push(message)
      const ret = message.ret
      if (!ret) continue
      if (message.verb === 'Ls') {
        await ret.send({ verb: 'Set', args: ['a', 'b'] })
        await ret.close()
      } else if (message.verb === 'Attach') {
        await ret.send({ verb: 'Ack', args: [], ret: child() })
        await ret.send({ verb: 'Log', args: ['output line'] })
      } else if (message.verb === 'Watch') {
        await ret.send({ verb: 'Ack', args: [] })
        for (let i = 0; ; i++) {
          try {
            await ret.send({ verb: 'Set', args: [JSON.stringify({ type: 'change', name: `n${i}` })] })
          } catch {
            seen.push({ verb: 'Stop', args: ['watcher gone'] })
            break
          }
        }
      } else {
        await ret.send({ verb: 'Error', args: [`not implemented: ${message.verb}`, 'NOT_IMPLEMENTED'] })
        await ret.close()
      }
    }
  })()
  return { service, seen }
}

function sink(): { lines: string[]; write(text: string): void } {
  const lines: string[] = []
  return { lines, write: (text) => lines.push(...text.split('\n').filter(Boolean)) }
}

async function call(service: Service, message: Omit<Message, 'ret'>): Promise<Message[]> {
  const [replies, ret] = pipe<Message>()
  await service.send({ ...message, ret }, timeout())
  const all: Message[] = []
  for (;;) {
    try {
      all.push(await replies.receive(timeout()))
    } catch (error) {
      if ((error as Error).name === 'ChannelClosedError') return all
      throw error
    }
  }
}

describe.each(scenarios)('debugService ($name)', ({ name, connect }) => {
  const sessions: AbortController[] = []
  afterEach(() => {
    for (const session of sessions.splice(0)) session.abort()
  })
  /** The debug stage as the test reaches it: directly, or across a real session. */
  async function reach(service: Service): Promise<Service> {
    const session = new AbortController()
    sessions.push(session)
    return connect(service, session.signal)
  }

  it('prints a request and its reply, and forwards both unchanged', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out }))
    const replies = await call(service, { verb: 'Ls', args: [] })
    expect(replies).toEqual([{ verb: 'Set', args: ['a', 'b'] }])
    expect(next.seen[0]?.verb).toBe('Ls')
    expect(next.seen[0]?.args).toEqual([])
    expect(out.lines).toEqual(['[debug] -> Ls [] +ret', '[debug] <- Set ["a","b"] (reply to Ls)'])
  })

  it('marks a message that carries an attachment and forwards the same stream object', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out, prefix: '#' }))
    const att = new PassThrough()
    const replies = await call(service, { verb: 'File', args: ['x'], att })
    expect(replies[0]?.verb).toBe('Error')
    if (name === 'memory') expect(next.seen[0]?.att).toBe(att)
    else expect(isByteStream(next.seen[0]?.att)).toBe(true) // a session carries it as a stream of its own
    expect(out.lines[0]).toBe('# -> File ["x"] +ret +att')
  })

  it('forwards a message without a return channel and prints it without +ret', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out }))
    await service.send({ verb: 'Log', args: ['hello'] }, timeout())
    await expect.poll(() => next.seen.length, { timeout: 5000 }).toBe(1)
    expect(next.seen[0]).toEqual({ verb: 'Log', args: ['hello'] })
    expect(out.lines).toEqual(['[debug] -> Log ["hello"]'])
  })

  it('wraps an attached child, so messages to it are printed under its path', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out }))
    const [replies, ret] = pipe<Message>()
    await service.send({ verb: 'Attach', args: ['web'], ret }, timeout())
    const ack = await replies.receive(timeout())
    expect(ack.verb).toBe('Ack')
    expect((await replies.receive(timeout())).args).toEqual(['output line'])
    const childReplies = await call(ack.ret!, { verb: 'Start', args: [] })
    expect(childReplies).toEqual([{ verb: 'Ack', args: ['child'] }])
    expect(out.lines).toContain('[debug] -> Attach ["web"] +ret')
    expect(out.lines).toContain('[debug] <- Ack [] +ret (reply to Attach)')
    expect(out.lines).toContain('[debug] <- Log ["output line"] (reply to Attach)')
    expect(out.lines).toContain('[debug] web -> Start [] +ret')
    expect(out.lines).toContain('[debug] web <- Ack ["child"] (reply to Start)')
    replies.cancel()
  })

  it('passes backpressure and cancellation through: a watcher that stops reading stops the stream', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out }))
    const [replies, ret] = pipe<Message>({ highWaterMark: 1 })
    await service.send({ verb: 'Watch', args: [], ret }, timeout())
    expect((await replies.receive(timeout())).verb).toBe('Ack')
    for (let i = 0; i < 3; i++) expect((await replies.receive(timeout())).verb).toBe('Set')
    // Bounded: the producer is held back, not buffering without end. In memory the channels' buffers
    // bound it; across a session its flow-control window (256 KiB, ~5000 of these events) does.
    expect(out.lines.length).toBeLessThan(name === 'memory' ? 60 : 20_000)
    replies.cancel()
    await expect.poll(() => next.seen.some((m) => m.args[0] === 'watcher gone'), { timeout: 5000 }).toBe(true)
  })

  it('answers a bare Start/Stop itself, not implemented (the next stage gets its own), forwards one that names a child', async () => {
    const next = nextStage()
    const out = sink()
    const service = await reach(debugService(next.service, { sink: out }))
    expect((await call(service, { verb: 'Start', args: [] }))[0]?.args).toEqual([
      'not implemented: Start',
      'NOT_IMPLEMENTED',
    ])
    expect((await call(service, { verb: 'Stop', args: [] }))[0]?.args[1]).toBe('NOT_IMPLEMENTED')
    expect(next.seen).toEqual([])
    const named = await call(service, { verb: 'Start', args: ['web'] })
    expect(named[0]?.args[0]).toBe('not implemented: Start')
    expect(next.seen.map((m) => [m.verb, ...m.args].join(' '))).toEqual(['Start web'])
    expect(out.lines[0]).toBe('[debug] -> Start [] +ret')
    expect(out.lines[1]).toMatch(
      /^\[debug\] <- Error \["not implemented: Start","NOT_IMPLEMENTED"\] \(reply to Start\)$/,
    )
  })

  it('answers Error when the next stage is gone', async () => {
    const [requests, gone] = pipe<Message>()
    requests.cancel()
    const out = sink()
    const replies = await call(await reach(debugService(gone, { sink: out })), { verb: 'Get', args: [] })
    expect(replies[0]?.verb).toBe('Error')
    expect(replies[0]?.args[0]).toMatch(/could not forward Get: the next stage is gone/)
    expect(replies[0]?.args[1]).toBe('UNAVAILABLE')
  })
})

describe('the debug backend', () => {
  const dirs: string[] = []
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  function context(out: Service, controller: AbortController): BackendContext {
    return {
      out,
      signal: controller.signal,
      spawn: () => Promise.reject(new Error('not used')),
      log: () => {},
    }
  }

  it('declares its name, usage and capabilities', () => {
    expect(backend.name).toBe('debug')
    expect(backend.usage).toMatch(/^debug /)
    expect(backend.capabilities?.verbs).toEqual([])
  })

  it('parses its arguments and rejects bad ones with the usage', () => {
    expect(parseDebugArgs([])).toEqual({})
    expect(parseDebugArgs(['--out', 'f.log', '--prefix=dbg'])).toEqual({ out: 'f.log', prefix: 'dbg' })
    expect(() => parseDebugArgs(['--bogus'])).toThrow(/unknown argument "--bogus"; usage: debug/)
    expect(() => parseDebugArgs(['--out'])).toThrow(/--out needs a value/)
  })

  it('writes to --out FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapter-debug-'))
    dirs.push(dir)
    const file = join(dir, 'debug.log')
    const controller = new AbortController()
    const service = await backend.spawn(['--out', file], context(nextStage().service, controller))
    await call(service, { verb: 'Ls', args: [] })
    controller.abort()
    await expect
      .poll(() => readFile(file, 'utf8'), { timeout: 5000 })
      .toBe('[debug] -> Ls [] +ret\n[debug] <- Set ["a","b"] (reply to Ls)\n')
  })

  it('sends its lines to the host log when the host reads it (swarmd), unprefixed', async () => {
    const lines: string[] = []
    const controller = new AbortController()
    const service = await backend.spawn([], {
      ...context(nextStage().service, controller),
      log: (line) => lines.push(line),
      logged: true,
    })
    await call(service, { verb: 'Ls', args: [] })
    controller.abort()
    expect(lines).toEqual(['-> Ls [] +ret', '<- Set ["a","b"] (reply to Ls)'])
  })

  it('keeps --out FILE and --prefix even when the host reads its log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapter-debug-'))
    dirs.push(dir)
    const file = join(dir, 'debug.log')
    const lines: string[] = []
    const controller = new AbortController()
    const service = await backend.spawn(['--out', file], {
      ...context(nextStage().service, controller),
      log: (line) => lines.push(line),
      logged: true,
    })
    await call(service, { verb: 'Ls', args: [] })
    controller.abort()
    await expect
      .poll(() => readFile(file, 'utf8'), { timeout: 5000 })
      .toMatch(/^\[debug\] -> Ls \[\] \+ret\n/)
    expect(lines).toEqual([])
    const prefixed: string[] = []
    const again = await backend.spawn(['--prefix', 'dbg'], {
      ...context(nextStage().service, new AbortController()),
      log: (line) => prefixed.push(line),
      logged: true,
    })
    await call(again, { verb: 'Ls', args: [] })
    expect(prefixed[0]).toBe('dbg -> Ls [] +ret')
  })

  it('refuses an --out file it cannot open, with a clear error', async () => {
    const controller = new AbortController()
    await expect(
      Promise.resolve().then(() =>
        backend.spawn(['--out', '/nonexistent-dir/x.log'], context(nextStage().service, controller)),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      message: expect.stringMatching(/cannot open --out file "\/nonexistent-dir\/x.log".*ENOENT/),
    })
  })
})
