import { type Duplex, PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AbortError,
  Client,
  ConflictError,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  NotImplementedError,
  pipe,
  RemoteError,
  reference,
  Server,
  type Service,
  TimeoutError,
  UnavailableError,
  type WatchEvent,
  WatchHub,
} from '../src/index.ts'
import { type Exposed, variants } from './services-fixture.ts'

const T = 5_000
const bounded = () => AbortSignal.timeout(T)

async function readSome(stream: Duplex, bytes: number): Promise<string> {
  let text = ''
  const signal = bounded()
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    if (signal.aborted) throw new Error('timed out reading')
    text += chunk.toString()
    if (text.length >= bytes) break
  }
  return text
}

/** A Duplex whose writes come back on its readable side. */
function echoStream(): Duplex {
  return new PassThrough()
}

describe.each(variants)('Server and Client ($name)', (variant) => {
  const opened: Exposed[] = []
  const expose = async (service: Service): Promise<Client> => {
    const exposed = await variant.expose(service)
    opened.push(exposed)
    return new Client(exposed.service, { timeout: T })
  }
  afterEach(async () => {
    for (const exposed of opened.splice(0)) await exposed.close()
  })

  it.skipIf(variant.skip)(`runs (${variant.skip ?? 'available'})`, () => {})

  it.skipIf(variant.skip)('Ls answers Set with the names, sorted', async () => {
    const client = await expose(new Server({ onLs: () => ['web', 'db', 'cache'] }))
    expect(await client.ls()).toEqual(['cache', 'db', 'web'])
    const reply = await client.call('Ls')
    expect(reply.verb).toBe('Set')
  })

  it.skipIf(variant.skip)('Get answers Set with JSON that the client parses', async () => {
    const client = await expose(new Server({ onGet: (args) => ({ state: 'running', args }) }))
    expect(await client.get(['x'])).toEqual({ state: 'running', args: ['x'] })
    const raw = await client.call('Get')
    expect(raw).toMatchObject({ verb: 'Set', args: [JSON.stringify({ state: 'running', args: [] })] })
  })

  it.skipIf(variant.skip)(
    'Start, Stop, Set, Log, Error and File answer Ack and reach their handler',
    async () => {
      const seen: string[] = []
      let fileContent = ''
      const client = await expose(
        new Server({
          onStart: (args) => void seen.push(`Start ${args.join(' ')}`),
          onStop: () => void seen.push('Stop'),
          onSet: (args) => void seen.push(`Set ${args.join('=')}`),
          onLog: (args) => void seen.push(`Log ${args.join('|')}`),
          onError: (args) => void seen.push(`Error ${args.join('|')}`),
          onFile: async ([name], context) => {
            for await (const chunk of context.att as AsyncIterable<Buffer>) fileContent += chunk.toString()
            seen.push(`File ${name}`)
          },
        }),
      )
      await client.start(['web'])
      await client.stop()
      await client.set(['replicas', '3'])
      await client.log(['one', 'two'])
      await client.error('disk full', 'ENOSPC')
      const content = new PassThrough()
      content.end('file body')
      await client.file('notes.txt', content)
      expect(seen).toEqual([
        'Start web',
        'Stop',
        'Set replicas=3',
        'Log one|two',
        'Error disk full|ENOSPC',
        'File notes.txt',
      ])
      expect(fileContent).toBe('file body')
    },
  )

  it.skipIf(variant.skip)('Spawn answers Ack with the new instance, which the client can call', async () => {
    const client = await expose(
      new Server({ onSpawn: (args) => new Server({ onGet: () => ({ spawnedWith: args }) }) }),
    )
    const child = await client.spawn(['web', '--port', '80'])
    expect(child).toBeInstanceOf(Client)
    expect(await child.get()).toEqual({ spawnedWith: ['web', '--port', '80'] })
  })

  it.skipIf(variant.skip)(
    'Attach answers Ack with the child, then carries its output until it ends',
    async () => {
      const child = new Server({ onGet: () => 'child' })
      const client = await expose(
        new Server({
          onAttach: async function* ([name]: string[]) {
            if (name !== 'web') throw new NotFoundError(`no child named "${name}"`)
            yield* []
          } as never,
        }),
      )
      // A generator is not a Service: the server says so instead of crashing.
      await expect(client.attach('web')).rejects.toThrow(/onAttach must return a Service/)

      const [output, emit] = pipe<Message>()
      const client2 = await expose(
        new Server({
          onAttach: ([name]) => {
            if (name !== 'web') throw new NotFoundError(`no child named "${name}"`)
            return { instance: child, output }
          },
        }),
      )
      const attached = await client2.attach('web')
      expect(await attached.instance.get()).toBe('child')
      await emit.send({ verb: 'Log', args: ['line 1'] })
      await emit.send({ verb: 'Log', args: ['line 2'] })
      await emit.close()
      const lines: string[][] = []
      for await (const message of attached.output) lines.push([message.verb, ...message.args])
      expect(lines).toEqual([
        ['Log', 'line 1'],
        ['Log', 'line 2'],
      ])
      await expect(client2.attach('nope')).rejects.toThrow(new NotFoundError('no child named "nope"'))
    },
  )

  it.skipIf(variant.skip)(
    'Watch answers Ack, then one Set per event; cancelling stops the server side',
    async () => {
      const hub = new WatchHub()
      let watchSignal: AbortSignal | undefined
      const client = await expose(
        new Server({
          onWatch: (_args, context) => {
            watchSignal = context.signal
            return hub.subscribe(context.signal)
          },
        }),
      )
      const events = await client.watch()
      expect(hub.size).toBe(1)
      hub.publish({ type: 'create', name: 'web' })
      hub.publish({ type: 'start', name: 'web', state: 'running', time: '2024-01-01T00:00:00.000Z' })
      const first = await events.receive({ signal: bounded() })
      expect(first).toMatchObject({ type: 'create', name: 'web' })
      expect(typeof first.time).toBe('string')
      expect(await events.receive({ signal: bounded() })).toEqual({
        type: 'start',
        name: 'web',
        state: 'running',
        time: '2024-01-01T00:00:00.000Z',
      })
      events.cancel()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the server never saw the watcher leave')), T)
        if (watchSignal?.aborted) return resolve()
        watchSignal?.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve()
        })
      })
      expect(watchSignal?.aborted).toBe(true)
    },
  )

  it.skipIf(variant.skip)(
    'a caller closing an attached or spawned child releases only its reference',
    async () => {
      const child = new Server({ onGet: () => 'alive' })
      let closed = false
      child.closed.then(() => (closed = true))
      const client = await expose(new Server({ onAttach: () => child, onSpawn: () => child }))
      const first = await client.attach('x')
      first.output.cancel()
      await first.instance.close()
      const spawned = await client.spawn()
      await spawned.close()
      const second = await client.attach('x')
      expect(await second.instance.get()).toBe('alive')
      expect(closed).toBe(false)
      await expect(first.instance.get()).rejects.toThrow()
    },
  )

  it.skipIf(variant.skip)('a failing Watch source ends the stream with the typed error', async () => {
    const client = await expose(
      new Server({
        onWatch: async function* () {
          yield { type: 'create', name: 'a' } satisfies WatchEvent
          throw new UnavailableError('etcd went away')
        },
      }),
    )
    const events = await client.watch()
    expect(await events.receive({ signal: bounded() })).toMatchObject({ type: 'create', name: 'a' })
    await expect(events.receive({ signal: bounded() })).rejects.toThrow(
      new UnavailableError('etcd went away'),
    )
  })

  it.skipIf(variant.skip)('Connect answers Ack with a byte stream to the thing itself', async () => {
    const client = await expose(new Server({ onConnect: () => echoStream() }))
    const stream = (await client.connect()) as Duplex
    stream.write('hello')
    expect(await readSome(stream, 5)).toBe('hello')
    stream.destroy()
  })

  it.skipIf(variant.skip)(
    'an unhandled verb answers Error "not implemented: <Verb>" with NOT_IMPLEMENTED',
    async () => {
      const client = await expose(new Server({ onLs: () => [] }))
      for (const verb of ['Start', 'Stop', 'Get', 'Spawn', 'Watch', 'Connect'] as const) {
        const error = await client.call(verb).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(NotImplementedError)
        expect((error as Error).message).toBe(`not implemented: ${verb}`)
      }
    },
  )

  it.skipIf(variant.skip)(
    'a handler that throws answers Error with its text and the typed error',
    async () => {
      const client = await expose(
        new Server({
          onGet: ([what]) => {
            if (what === 'missing') throw new NotFoundError('container "x" not found')
            if (what === 'busy') throw new ConflictError('already running')
            if (what === 'bad') throw new InvalidArgumentError('[adapter-x] bad port "abc"')
            if (what === 'plain') throw new Error('something odd')
            return {}
          },
        }),
      )
      await expect(client.get(['missing'])).rejects.toThrow(new NotFoundError('container "x" not found'))
      await expect(client.get(['busy'])).rejects.toBeInstanceOf(ConflictError)
      await expect(client.get(['bad'])).rejects.toThrow(
        new InvalidArgumentError('[adapter-x] bad port "abc"'),
      )
      const plain = await client.get(['plain']).catch((e: unknown) => e)
      expect(plain).toBeInstanceOf(RemoteError)
      expect((plain as Error).message).toBe('something odd')
    },
  )

  it.skipIf(variant.skip)(
    'an Error with an unknown code becomes a RemoteError keeping text and code',
    async () => {
      const client = await expose(
        new Server({
          catchAll: async (message) => {
            await message.ret?.send({ verb: 'Error', args: ['quota exceeded', 'QUOTA'] })
            await message.ret?.close()
          },
        }),
      )
      const error = await client.start().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RemoteError)
      expect(error).toMatchObject({ message: 'quota exceeded', remoteCode: 'QUOTA' })
    },
  )

  it.skipIf(variant.skip)(
    'a reply channel closed without an answer rejects with a clear RemoteError',
    async () => {
      const client = await expose(new Server({ catchAll: (message) => message.ret?.close() }))
      await expect(client.start()).rejects.toThrow(
        /Start: the service ended the reply channel without answering/,
      )
    },
  )

  it.skipIf(variant.skip)(
    'no answer within the timeout rejects with TimeoutError; a signal with AbortError',
    async () => {
      let sawAbort = false
      const client = await expose(
        new Server({
          onGet: (_args, context) =>
            new Promise((_resolve, reject) => {
              context.signal.addEventListener('abort', () => {
                sawAbort = true
                reject(new Error('caller left'))
              })
            }),
        }),
      )
      await expect(client.get([], { timeout: 50 })).rejects.toThrow(
        new TimeoutError('Get got no answer within 50 ms'),
      )
      const controller = new AbortController()
      const pending = client.get([], { signal: controller.signal })
      controller.abort()
      await expect(pending).rejects.toBeInstanceOf(AbortError)
      // The server's call signal fired because the caller cancelled its reply channel.
      const deadline = Date.now() + T
      while (!sawAbort && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      expect(sawAbort).toBe(true)
    },
  )

  it.skipIf(variant.skip)('a malformed reply is a clear error, not a crash', async () => {
    const client = await expose(
      new Server({
        catchAll: async (message) => {
          await message.ret?.send({ verb: 'Set', args: ['{not json'] })
          await message.ret?.close()
        },
      }),
    )
    await expect(client.get()).rejects.toThrow(/Get: the reply is not valid JSON/)
    await expect(client.start()).rejects.toThrow(/Start: unexpected reply Set \(expected Ack\)/)
  })

  it.skipIf(variant.skip)(
    'fallback: verbs without a handler go to the fallback service unchanged',
    async () => {
      const downstream = new Server({ onStart: () => {}, onLs: () => ['from-downstream'] })
      const client = await expose(new Server({ onGet: () => 'front' }, { fallback: downstream }))
      expect(await client.get()).toBe('front')
      expect(await client.ls()).toEqual(['from-downstream'])
      await client.start(['web']) // names a child: forwarded
      await expect(client.stop(['web'])).rejects.toThrow(new NotImplementedError('not implemented: Stop'))
      // A bare Start addresses the front itself (which has no onStart), never the fallback.
      await expect(client.start()).rejects.toThrow(new NotImplementedError('not implemented: Start'))
    },
  )
})

describe('Server in memory only', () => {
  it('bounds concurrency: send waits while maxConcurrency calls are in flight', async () => {
    const gates: (() => void)[] = []
    const server = new Server(
      { onGet: () => new Promise<string>((resolve) => gates.push(() => resolve('ok'))) },
      { maxConcurrency: 2 },
    )
    const client = new Client(server, { timeout: T })
    const a = client.get()
    const b = client.get()
    await new Promise((r) => setImmediate(r))
    expect(gates).toHaveLength(2)
    const [, ret] = pipe<Message>()
    let accepted = false
    const third = server.send({ verb: 'Get', args: [], ret }).then(() => (accepted = true))
    await new Promise((r) => setImmediate(r))
    expect(accepted).toBe(false)
    gates.shift()!()
    await third
    expect(accepted).toBe(true)
    for (const gate of gates.splice(0)) gate()
    expect(await a).toBe('ok')
    expect(await b).toBe('ok')
    await server.close()
  })

  it('open Watch and Attach streams do not hold a concurrency slot', async () => {
    const hub = new WatchHub()
    const [output] = pipe<Message>()
    const child = new Server({})
    const server: Server = new Server(
      {
        onWatch: (_a, context) => hub.subscribe(context.signal),
        onAttach: () => ({ instance: child, output }),
        onGet: () => 'still answering',
      },
      { maxConcurrency: 1 },
    )
    const client = new Client(server, { timeout: T })
    const watches = await Promise.all([client.watch(), client.watch()])
    const attached = await client.attach('x')
    expect(await client.get()).toBe('still answering')
    for (const events of watches) events.cancel()
    attached.output.cancel()
    await server.close()
  })

  it('a malformed message with a ret answers InvalidArgument; without one, send rejects', async () => {
    const server = new Server({})
    const [replies, ret] = pipe<Message>()
    await server.send({ verb: 'Frobnicate', args: [], ret } as unknown as Message)
    const reply = await replies.receive({ signal: bounded() })
    expect(reply.verb).toBe('Error')
    expect(reply.args[0]).toMatch(/unknown verb "Frobnicate": expected one of Ack, Attach/)
    expect(reply.args[1]).toBe('INVALID_ARGUMENT')
    await expect(server.send({ verb: 'Get', args: [1] } as unknown as Message)).rejects.toThrow(
      /Get: args must be an array of strings/,
    )
    await expect(server.send(null as unknown as Message)).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('close fires in-flight signals, ends watches, and refuses new messages', async () => {
    const hub = new WatchHub()
    const server = new Server({ onWatch: (_a, context) => hub.subscribe(context.signal) })
    const events = await new Client(server, { timeout: T }).watch()
    await server.close()
    await expect(events.receive({ signal: bounded() })).rejects.toThrow(/ended/)
    await expect(new Client(server).ls()).rejects.toThrow(/closed service/)
    expect(hub.size).toBe(0)
  })

  it('reference(): close and abort end the reference, never the service', async () => {
    const target = new Server({ onGet: () => 1 })
    const ref = reference(target)
    expect(await new Client(ref, { timeout: T }).get()).toBe(1)
    ref.abort('done')
    await ref.closed
    await expect(new Client(ref).get()).rejects.toThrow(/closed service reference/)
    expect(await new Client(target, { timeout: T }).get()).toBe(1)
    const other = reference(target)
    await target.close()
    await expect(new Client(other).get()).rejects.toThrow(/closed service/)
    await other.closed
  })

  it('passes the peer from send options to the handler context', async () => {
    let peer: unknown
    const server = new Server({
      onLs: (_a, context) => {
        peer = context.peer
        return []
      },
    })
    const [replies, ret] = pipe<Message>()
    await server.send({ verb: 'Ls', args: [], ret }, { peer: { transport: 'tcp', address: '127.0.0.1:1' } })
    await replies.receive({ signal: bounded() })
    expect(peer).toEqual({ transport: 'tcp', address: '127.0.0.1:1' })
  })
})

describe('WatchHub', () => {
  it('drops a watcher that falls too far behind, with a clear error', async () => {
    const hub = new WatchHub({ highWaterMark: 3 })
    const slow = hub.subscribe()
    const fast = hub.subscribe()
    for (let i = 0; i < 3; i++) {
      hub.publish({ type: 'change', name: `n${i}` })
      await fast.receive({ signal: bounded() })
    }
    hub.publish({ type: 'change', name: 'n3' })
    expect(hub.size).toBe(1)
    for (let i = 0; i < 3; i++) expect((await slow.receive({ signal: bounded() })).name).toBe(`n${i}`)
    await expect(slow.receive({ signal: bounded() })).rejects.toThrow(/fell more than 3 events behind/)
    expect((await fast.receive({ signal: bounded() })).name).toBe('n3')
  })
})
