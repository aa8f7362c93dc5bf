import { afterEach, describe, expect, it } from 'vitest'
import {
  type Backend,
  BackendRegistry,
  Client,
  ConflictError,
  filter,
  handler,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  NotImplementedError,
  notImplemented,
  parseSpec,
  pipe,
  pipeline,
  replyAck,
  replyAndClose,
  Server,
  type Service,
  Task,
  Tree,
  UnauthorizedError,
  UnavailableError,
  usageError,
} from '../src/index.ts'
import { type Exposed, variants } from './services-fixture.ts'

const T = 5_000
const bounded = () => AbortSignal.timeout(T)

describe.each(variants)('building blocks ($name)', (variant) => {
  const opened: Exposed[] = []
  const expose = async (service: Service): Promise<Client> => {
    const exposed = await variant.expose(service)
    opened.push(exposed)
    return new Client(exposed.service, { timeout: T })
  }
  afterEach(async () => {
    for (const exposed of opened.splice(0)) await exposed.close()
  })

  it.skipIf(variant.skip)('handler(): a function as a service; a throw answers Error', async () => {
    const client = await expose(
      handler(async (message) => {
        if (message.verb === 'Get') throw new UnauthorizedError('token refused')
        await replyAndClose(message.ret, { verb: 'Set', args: message.args.map((a) => a.toUpperCase()) })
      }),
    )
    expect(await client.ls()).toEqual([])
    expect((await client.call('Ls', ['a', 'b'])).args).toEqual(['A', 'B'])
    await expect(client.get()).rejects.toThrow(new UnauthorizedError('token refused'))
  })

  it.skipIf(variant.skip)('notImplemented answers every verb with NOT_IMPLEMENTED', async () => {
    const client = await expose(notImplemented)
    await expect(client.ls()).rejects.toThrow(new NotImplementedError('not implemented: Ls'))
    await expect(client.spawn(['x'])).rejects.toThrow(new NotImplementedError('not implemented: Spawn'))
  })

  it.skipIf(variant.skip)(
    'Task: runs on Start, refuses a second Start, Stop aborts it, Get/Watch report it',
    async () => {
      const [outRx, out] = pipe<Message>()
      let runArgs: string[] = []
      const task = new Task(
        async ({ input, out, args, signal }) => {
          runArgs = args
          for await (const message of input) {
            await out.send({ verb: 'Log', args: message.args.map((s) => s.toUpperCase()) }, { signal })
            await replyAck(message.ret)
          }
        },
        { out, name: 'upper' },
      )
      const client = await expose(task)
      expect(await client.get()).toEqual({ name: 'upper', state: 'created' })
      await expect(client.log('too early')).rejects.toThrow(
        new UnavailableError('upper is not running (state: created): send Start first'),
      )
      const events = await client.watch()
      await client.start(['--fast'])
      expect(runArgs).toEqual(['--fast'])
      expect(await client.get()).toMatchObject({ name: 'upper', state: 'running' })
      expect(await events.receive({ signal: bounded() })).toMatchObject({ type: 'start', name: 'upper' })
      await expect(client.start()).rejects.toThrow(ConflictError)
      await client.log(['hello'])
      expect(await outRx.receive({ signal: bounded() })).toMatchObject({ verb: 'Log', args: ['HELLO'] })
      await client.stop()
      expect(task.state).toBe('stopped')
      expect(await client.get()).toMatchObject({ state: 'stopped', endedAt: expect.any(String) })
      expect(await events.receive({ signal: bounded() })).toMatchObject({ type: 'stop', name: 'upper' })
      await expect(client.start()).rejects.toThrow(/already started \(state: stopped\)/)
      events.cancel()
    },
  )

  it.skipIf(variant.skip)('Task: a failing run is reported by Get', async () => {
    const task = new Task(() => {
      throw new Error('boom')
    })
    const client = await expose(task)
    await client.start()
    await task.done
    expect(await client.get()).toMatchObject({ state: 'failed', error: 'boom' })
  })

  it.skipIf(variant.skip)('Tree: Ls sorted, Attach by name, NotFound for unknown names, unbind', async () => {
    const web = new Server({ onGet: () => 'web' })
    const db = new Server({ onGet: () => 'db' })
    const tree = new Tree({ web })
    tree.bind('db', db)
    expect(() => tree.bind('db', db)).toThrow(ConflictError)
    expect(() => tree.bind('', db)).toThrow(InvalidArgumentError)
    const client = await expose(tree)
    expect(await client.ls()).toEqual(['db', 'web'])
    expect(await client.get()).toEqual({ children: ['db', 'web'] })
    const { instance, output } = await client.attach('web')
    expect(await instance.get()).toBe('web')
    output.cancel()
    await expect(client.attach('nope')).rejects.toThrow(
      new NotFoundError('no child named "nope" (children: db, web)'),
    )
    expect(tree.unbind('web')).toBe(web)
    expect(await client.ls()).toEqual(['db'])
    await expect(client.start()).rejects.toBeInstanceOf(NotImplementedError)
  })

  it.skipIf(variant.skip)(
    'filter: intercepts chosen verbs, forwards the rest with replies flowing back',
    async () => {
      const inner = new Server({ onLs: () => ['a'], onGet: () => 'inner', onStop: () => {} })
      const seen: string[] = []
      const wrapped = filter(inner, {
        Get: async (message, context) => {
          seen.push('Get')
          await context.forward({ ...message, args: ['rewritten'] })
        },
        Stop: () => {
          throw new UnauthorizedError('Stop is not allowed here')
        },
        Ls: async (message) => {
          await replyAndClose(message.ret, { verb: 'Set', args: ['filtered'] })
        },
      })
      const client = await expose(wrapped)
      expect(await client.ls()).toEqual(['filtered'])
      expect(await client.get()).toBe('inner')
      await expect(client.stop()).rejects.toThrow(new UnauthorizedError('Stop is not allowed here'))
      await expect(client.start()).rejects.toThrow(new NotImplementedError('not implemented: Start'))
      expect(seen).toEqual(['Get'])
    },
  )
})

describe('parseSpec', () => {
  it.each([
    ['simulator', ['simulator']],
    ['  dockerclient   tcp://127.0.0.1:4243 ', ['dockerclient', 'tcp://127.0.0.1:4243']],
    [`exec sh -c 'echo "hi there"'`, ['exec', 'sh', '-c', 'echo "hi there"']],
    [`a "b \\"c\\" \\\\ \\n" d`, ['a', 'b "c" \\ \\n', 'd']],
    [`a b\\ c 'x'"y"z`, ['a', 'b c', 'xyz']],
    [`a '' ""`, ['a', '', '']],
    ['', []],
  ])('%s', (spec, words) => {
    expect(parseSpec(spec)).toEqual(words)
  })

  it.each([
    [`a 'b`, /unterminated single quote at column 3/],
    [`a "b`, /unterminated double quote at column 3/],
    ['a b\\', /trailing backslash/],
  ])('%s is an InvalidArgumentError', (spec, message) => {
    expect(() => parseSpec(spec)).toThrow(InvalidArgumentError)
    expect(() => parseSpec(spec)).toThrow(message)
  })
})

/** A backend whose instances record what reaches them and forward to `out`. */
function recorder(name: string, log: string[]): Backend {
  return {
    name,
    summary: `records calls (${name})`,
    usage: `${name} [--fail]`,
    capabilities: { verbs: ['Start', 'Stop', 'Get'] },
    spawn(args, context) {
      if (args.includes('--bad')) throw new InvalidArgumentError(`unknown flag "--bad"`)
      log.push(`spawn ${name} ${args.join(' ')}`.trim())
      return new Server(
        {
          onStart: () => {
            log.push(`start ${name}`)
            if (args.includes('--fail')) throw new UnavailableError(`${name} cannot start`)
          },
          onStop: () => void log.push(`stop ${name}`),
          onGet: () => ({ name, args }),
        },
        { fallback: context.out },
      )
    },
  }
}

describe('BackendRegistry', () => {
  it('registers, gets, lists sorted, refuses duplicates and malformed backends', () => {
    const registry = new BackendRegistry([recorder('b', []), recorder('a', [])])
    expect(registry.list().map((b) => b.name)).toEqual(['a', 'b'])
    expect(registry.get('a').usage).toBe('a [--fail]')
    expect(registry.has('c')).toBe(false)
    expect(() => registry.get('c')).toThrow(new NotFoundError('no backend named "c" (registered: a, b)'))
    expect(() => registry.register(recorder('a', []))).toThrow(ConflictError)
    expect(() => registry.register({ name: 'Bad Name' } as Backend)).toThrow(InvalidArgumentError)
  })

  it('spawns from a spec; bad args and bad specs show the usage line', async () => {
    const log: string[] = []
    const registry = new BackendRegistry([recorder('rec', log)])
    const instance = await registry.spawn(`rec 'one two' three`)
    expect(await new Client(instance, { timeout: T }).get()).toEqual({
      name: 'rec',
      args: ['one two', 'three'],
    })
    await expect(registry.spawn('rec --bad')).rejects.toThrow(
      new InvalidArgumentError('[rec] unknown flag "--bad"\nusage: rec [--fail]'),
    )
    await expect(registry.spawn('rec "open')).rejects.toThrow(/unterminated double quote/)
    await expect(registry.spawn('')).rejects.toThrow(/empty spec/)
    await expect(registry.spawn('nope')).rejects.toBeInstanceOf(NotFoundError)
    expect(usageError(registry.get('rec'), 'needs a URL').message).toBe(
      '[rec] needs a URL\nusage: rec [--fail]',
    )
  })

  it('context.spawn spawns another backend through the registry', async () => {
    const registry = new BackendRegistry([
      recorder('leaf', []),
      {
        name: 'outer',
        summary: 'spawns a leaf',
        usage: 'outer',
        spawn: (_args, context) => context.spawn('leaf inner'),
      },
    ])
    const instance = await registry.spawn('outer')
    expect(await new Client(instance, { timeout: T }).get()).toEqual({ name: 'leaf', args: ['inner'] })
  })
})

describe('pipeline', () => {
  it('spawns last to first, chains out, starts in order and stops in reverse', async () => {
    const log: string[] = []
    const registry = new BackendRegistry([recorder('a', log), recorder('b', log), recorder('c', log)])
    const [tailRx, tail] = pipe<Message>()
    const chain = await pipeline(['a', 'b x', ['c', 'y z']], { registry, out: tail, timeout: T })
    expect(log).toEqual(['spawn c y z', 'spawn b x', 'spawn a'])
    expect(chain.stages.map((s) => s.name)).toEqual(['a', 'b', 'c'])
    expect(chain.head).toBe(chain.stages[0]!.service)
    expect(await new Client(chain.stage('b'), { timeout: T }).get()).toEqual({ name: 'b', args: ['x'] })
    expect(() => chain.stage('d')).toThrow(new NotFoundError('no stage named "d" (stages: a, b, c)'))
    // A verb no stage handles flows a -> b -> c -> out.
    await new Client(chain.head).post('Log', ['through'])
    expect(await tailRx.receive({ signal: bounded() })).toEqual({ verb: 'Log', args: ['through'] })
    log.length = 0
    await chain.start()
    expect(log).toEqual(['start a', 'start b', 'start c'])
    log.length = 0
    await chain.stop()
    expect(log).toEqual(['stop c', 'stop b', 'stop a'])
    await chain.close()
  })

  it('names repeated backends name#2 and passes the stage name to log', async () => {
    const lines: string[] = []
    const registry = new BackendRegistry([
      {
        name: 'talk',
        summary: 'logs on spawn',
        usage: 'talk',
        spawn: (_args, context) => {
          context.log('hello')
          return notImplemented
        },
      },
    ])
    const chain = await pipeline(['talk', 'talk'], {
      registry,
      log: (stage, line) => lines.push(`${stage}: ${line}`),
    })
    expect(chain.stages.map((s) => s.name)).toEqual(['talk', 'talk#2'])
    expect(lines).toEqual(['talk#2: hello', 'talk: hello'])
    // Neither stage implements Start or Stop: that is fine for the pipeline.
    await chain.start()
    await chain.stop()
  })

  it('a failing Start stops what started; a failing spawn closes what was spawned', async () => {
    const log: string[] = []
    const registry = new BackendRegistry([recorder('a', log), recorder('b', log)])
    const chain = await pipeline(['a', 'b --fail'], { registry, timeout: T })
    log.length = 0
    await expect(chain.start()).rejects.toThrow(new UnavailableError('b cannot start'))
    expect(log).toEqual(['start a', 'start b', 'stop a'])

    let closed = 0
    const closing: Backend = {
      name: 'closing',
      summary: 'counts closes',
      usage: 'closing',
      spawn: () => {
        const service = new Server({})
        const close = service.close.bind(service)
        service.close = () => {
          closed++
          return close()
        }
        return service
      },
    }
    registry.register(closing)
    await expect(pipeline(['a --bad', 'closing'], { registry })).rejects.toThrow(/usage: a \[--fail\]/)
    expect(closed).toBe(1)
    await expect(pipeline([], { registry })).rejects.toThrow(/at least one spec/)
    await expect(pipeline(['a', ''], { registry })).rejects.toThrow(/stage 2 is an empty spec/)
  })
})
