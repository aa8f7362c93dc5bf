import type { Duplex } from 'node:stream'
import { scenarios } from '@libswarm/adapter-compliance'
import { type BackendContext, Client, type Message, notImplemented, pipe, type Service } from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import { backend, type ContainerInfo, parseSimulatorArgs, simulator } from '../src/index.ts'

const signal = () => AbortSignal.timeout(5000)

describe.each(scenarios)('simulator ($name)', ({ connect }) => {
  const controllers: AbortController[] = []
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort()
  })

  async function host(containers: string[] = [], logInterval = 20): Promise<Client> {
    const controller = new AbortController()
    controllers.push(controller)
    const { service } = simulator({ containers, logInterval, signal: controller.signal })
    return new Client(await connect(service, controller.signal), { timeout: 5000 })
  }

  it('lists the containers named on its command line, sorted, in state created', async () => {
    const client = await host(['web', 'db'])
    expect(await client.ls()).toEqual(['db', 'web'])
    const { instance } = await client.attach('web', { signal: signal() })
    const info = await instance.get<ContainerInfo>()
    expect(info).toMatchObject({ name: 'web', state: 'created', status: 'Created', running: false, pid: 0 })
    expect(info.id).toMatch(/^[0-9a-f]{64}$/)
    expect(info.image).toBe('busybox:latest')
    expect(info.command).toEqual(['sh'])
    expect(Date.parse(info.created)).not.toBeNaN()
  })

  it('Ls --long answers every container as its Get describes it, in one reply', async () => {
    const client = await host(['web', 'db'])
    await (await client.attach('web', { signal: signal() })).instance.start()
    const reply = await client.call('Ls', ['--long'])
    expect(reply.verb).toBe('Set')
    const entries = reply.args.map((arg) => JSON.parse(arg) as ContainerInfo)
    expect(entries.map((e) => [e.name, e.state])).toEqual([
      ['db', 'created'],
      ['web', 'running'],
    ])
    const { instance } = await client.attach('db', { signal: signal() })
    expect(entries[0]).toEqual(await instance.get())
    await expect(client.call('Ls', ['--wide'])).rejects.toThrow(/--wide.*usage: Ls \[--long\]/)
  })

  it('spawns a container that Ls then lists and Get describes', async () => {
    const client = await host()
    const db = await client.spawn(['--name', 'db', 'postgres:16', 'postgres', '-p', '5432'])
    expect(await client.ls()).toEqual(['db'])
    expect(await db.get()).toMatchObject({
      name: 'db',
      image: 'postgres:16',
      command: ['postgres', '-p', '5432'],
      state: 'created',
      exitCode: null,
    })
    const unnamed = await client.spawn()
    expect(await unnamed.get()).toMatchObject({ name: 'sim-1', image: 'busybox:latest' })
    expect(await client.ls()).toEqual(['db', 'sim-1'])
  })

  it('starts and stops a container, and Get reports it', async () => {
    const client = await host(['web'])
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await web.start()
    const running = await web.get<ContainerInfo>()
    expect(running).toMatchObject({ state: 'running', running: true, exitCode: null })
    expect(running.status).toMatch(/^Up /)
    expect(running.pid).toBeGreaterThan(0)
    await web.stop()
    const exited = await web.get<ContainerInfo>()
    expect(exited).toMatchObject({ state: 'exited', running: false, exitCode: 0, pid: 0 })
    expect(exited.status).toMatch(/^Exited \(0\) /)
    expect(exited.finishedAt).not.toBeNull()
    await web.start()
    expect(await web.get()).toMatchObject({ state: 'running', restartCount: 1 })
  })

  it('Get on the host describes every container', async () => {
    const client = await host(['a', 'b'])
    const info = await client.get<{ containers: ContainerInfo[] }>()
    expect(info.containers.map((c) => c.name)).toEqual(['a', 'b'])
  })

  it('Watch on the host reports create, start and stop', async () => {
    const client = await host()
    const events = await client.watch([], { signal: signal() })
    const web = await client.spawn(['--name', 'web'])
    await web.start()
    await web.stop()
    const seen = []
    for (let i = 0; i < 3; i++) seen.push(await events.receive({ signal: signal() }))
    events.cancel()
    expect(seen.map((e) => [e.type, e.name, e.state])).toEqual([
      ['create', 'web', 'created'],
      ['start', 'web', 'running'],
      ['stop', 'web', 'exited'],
    ])
    expect(seen[2]).toMatchObject({ exitCode: 0 })
    expect(Date.parse(String(seen[0]?.time))).not.toBeNaN()
  })

  it('Watch on a container reports only its own changes', async () => {
    const client = await host(['a', 'b'])
    const { instance: a, output } = await client.attach('a')
    output.cancel()
    const events = await a.watch([], { signal: signal() })
    const { instance: b, output: bOut } = await client.attach('b')
    bOut.cancel()
    await b.start()
    await a.start()
    await a.set(['tier=web'])
    const first = await events.receive({ signal: signal() })
    const second = await events.receive({ signal: signal() })
    events.cancel()
    expect([first.type, first.name]).toEqual(['start', 'a'])
    expect(second).toMatchObject({ type: 'change', name: 'a', labels: { tier: 'web' } })
  })

  it('Attach carries the log lines of a running container, from the start', async () => {
    const client = await host(['web'])
    const { instance: web, output } = await client.attach('web')
    await web.start()
    const lines: string[] = []
    while (lines.length < 3) {
      const message = await output.receive({ signal: signal() })
      expect(message.verb).toBe('Log')
      lines.push(...message.args)
    }
    output.cancel()
    expect(lines[0]).toBe('$ sh')
    expect(lines[1]).toBe('web: tick 1')
    expect(lines[2]).toBe('web: tick 2')
    // A later Attach replays what was logged so far.
    const again = await client.attach('web')
    expect((await again.output.receive({ signal: signal() })).args).toEqual(['$ sh'])
    again.output.cancel()
  })

  it('Log appends lines to a container’s log', async () => {
    const client = await host(['web'], 60_000)
    const { instance: web, output } = await client.attach('web')
    await web.log(['hello', 'world'])
    expect((await output.receive({ signal: signal() })).args).toEqual(['hello'])
    expect((await output.receive({ signal: signal() })).args).toEqual(['world'])
    output.cancel()
  })

  it('Connect gives a byte stream that echoes, while the container runs', async () => {
    const client = await host(['web'])
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await expect(web.connect()).rejects.toMatchObject({
      name: 'UnavailableError',
      message: expect.stringMatching(/not running; Start it before Connect/),
    })
    await web.start()
    const stream = (await web.connect()) as Duplex
    const echoed = new Promise<string>((resolve, reject) => {
      let text = ''
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.includes('ping')) resolve(text)
      })
      stream.on('error', reject)
      signal().addEventListener('abort', () => reject(new Error('no echo within 5 s')))
    })
    stream.write('ping')
    expect(await echoed).toBe('ping')
    const ended = new Promise<void>((resolve) => stream.once('end', resolve))
    stream.resume()
    await web.stop()
    await Promise.race([
      ended,
      new Promise((_, reject) =>
        signal().addEventListener('abort', () => reject(new Error('stream did not end'))),
      ),
    ])
  })

  it('answers bad requests with clear errors, not crashes', async () => {
    const client = await host(['web'])
    await expect(client.attach('nope')).rejects.toMatchObject({
      name: 'NotFoundError',
      message: '[adapter-simulator] no such container: "nope"; Ls lists them',
    })
    await expect(client.spawn(['--name', 'web'])).rejects.toMatchObject({
      name: 'ConflictError',
      message: expect.stringMatching(/already exists/),
    })
    await expect(client.spawn(['--bogus'])).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      message: expect.stringMatching(/usage: Spawn \[--name NAME\].*unknown option "--bogus"/),
    })
    await expect(client.spawn(['--name', '../etc'])).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(client.get(['a', 'b'])).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(client.get(['nope'])).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(client.start(['web', 'nope'])).rejects.toMatchObject({ name: 'NotFoundError' })
    expect(await client.get(['web'])).toMatchObject({ state: 'created' }) // nothing started
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await expect(web.set(['no-equals-sign'])).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      message: expect.stringMatching(/KEY=VALUE/),
    })
    await expect(client.call('File', ['x'])).rejects.toMatchObject({
      name: 'NotImplementedError',
      message: 'not implemented: File',
    })
  })

  it('Start, Stop, Get, Watch and Connect with a NAME address that container', async () => {
    const client = await host(['a', 'b'])
    const events = await client.watch(['b'], { signal: signal() })
    await client.start(['a', 'b'])
    expect(await client.get(['a'])).toMatchObject({ name: 'a', state: 'running' })
    expect(await events.receive({ signal: signal() })).toMatchObject({ type: 'start', name: 'b' })
    events.cancel()
    const stream = (await client.connect(['a'])) as Duplex
    stream.destroy()
    await client.stop(['a'])
    expect(await client.get(['a'])).toMatchObject({ state: 'exited' })
    expect(await client.get(['b'])).toMatchObject({ state: 'running' })
  })

  /** Reads an Attach output to its end (bounded), returning the Log lines. */
  async function drain(output: { receive(o: { signal: AbortSignal }): Promise<Message> }): Promise<string[]> {
    const lines: string[] = []
    for (;;) {
      try {
        const message = await output.receive({ signal: signal() })
        if (message.verb === 'Log') lines.push(...message.args)
      } catch (error) {
        if ((error as Error).name === 'ChannelClosedError') return lines
        throw error
      }
    }
  }

  it('Attach NAME --logs gives the log so far and ends; --tail=N keeps the last N lines', async () => {
    const client = await host(['web'], 60_000)
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await web.start()
    await web.log(['one', 'two', 'three'])
    const all = await client.open('Attach', ['web', '--logs'])
    expect(all.reply.verb).toBe('Ack')
    expect(await drain(all.rest)).toEqual(['$ sh', 'one', 'two', 'three'])
    const tail = await client.open('Attach', ['web', '--logs', '--tail=2'])
    expect(await drain(tail.rest)).toEqual(['two', 'three'])
    const none = await client.open('Attach', ['web', '--logs', '--tail=0'])
    expect(await drain(none.rest)).toEqual([])
  })

  it('Attach NAME --follow carries new lines and ends when the container stops', async () => {
    const client = await host(['web'], 60_000)
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await web.start()
    const followed = await client.open('Attach', ['web', '--follow', '--tail=1'])
    expect((await followed.rest.receive({ signal: signal() })).args).toEqual(['$ sh'])
    await web.log(['later'])
    expect((await followed.rest.receive({ signal: signal() })).args).toEqual(['later'])
    await web.stop()
    expect(await drain(followed.rest)).toEqual(['web: stopped'])
    // On a container that is not running, --follow ends after the history (as docker logs -f does).
    const after = await client.open('Attach', ['web', '--follow'])
    expect(await drain(after.rest)).toEqual(['$ sh', 'later', 'web: stopped'])
  })

  it('Stop --rm removes a container: a running one only with --force; Watch sees delete', async () => {
    const client = await host(['web', 'db'])
    const events = await client.watch([], { signal: signal() })
    const { instance: web, output } = await client.attach('web')
    output.cancel()
    await web.start()
    await expect(web.stop(['--rm'])).rejects.toMatchObject({
      name: 'ConflictError',
      message: expect.stringMatching(/running container "web".*--force/),
    })
    await expect(client.stop(['--rm', 'web', 'db'])).rejects.toMatchObject({ name: 'ConflictError' })
    expect(await client.ls()).toEqual(['db', 'web']) // nothing removed by the refused call
    await web.stop(['--rm', '--force'])
    expect(await client.ls()).toEqual(['db'])
    await expect(web.get()).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(client.attach('web')).rejects.toMatchObject({ name: 'NotFoundError' })
    await client.stop(['--rm', 'db'])
    expect(await client.ls()).toEqual([])
    const seen: string[] = []
    while (seen.length < 4) {
      const event = await events.receive({ signal: signal() })
      seen.push(`${event.type} ${event.name}${event.type === 'stop' ? ` ${event.exitCode}` : ''}`)
    }
    events.cancel()
    expect(seen).toEqual(['start web', 'stop web 137', 'delete web', 'delete db'])
  })

  it('Stop --time=0 kills (exit code 137); bad Stop and Attach flags are InvalidArgument', async () => {
    const client = await host(['web'])
    await client.start(['web'])
    await client.stop(['--time=0', 'web'])
    expect(await client.get(['web'])).toMatchObject({ state: 'exited', exitCode: 137 })
    await client.start(['web'])
    await client.stop(['--time=10', 'web'])
    expect(await client.get(['web'])).toMatchObject({ state: 'exited', exitCode: 0 })
    for (const args of [['--time=soon', 'web'], ['--force', 'web'], ['--bogus'], ['--rm']]) {
      await expect(client.stop(args)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    }
    for (const args of [
      ['web', '--logs', '--follow'],
      ['web', '--tail=3'],
      ['web', '--tail=x', '--logs'],
      ['--logs'],
    ]) {
      await expect(client.open('Attach', args)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    }
  })

  it('Stop on the host stops every running container', async () => {
    const client = await host(['a', 'b'])
    for (const name of ['a', 'b']) {
      const { instance, output } = await client.attach(name)
      output.cancel()
      await instance.start()
    }
    await client.stop()
    const { containers } = await client.get<{ containers: ContainerInfo[] }>()
    expect(containers.map((c) => c.state)).toEqual(['exited', 'exited'])
  })
})

describe('simulator across sessions', () => {
  it('a container handed to a session that ends stays usable by everyone else', async () => {
    const controller = new AbortController()
    const { service } = simulator({ containers: ['web'], signal: controller.signal })
    // The test's own stand-in for the host, so that the session closing it leaves the host open.
    const [requests, exposed] = pipe<Message>()
    void (async () => {
      for await (const message of requests) await service.send(message)
    })().catch(() => {}) // the session aborts it when it ends
    const session = new AbortController()
    const remote = new Client(await scenarios[1]!.connect(exposed, session.signal), { timeout: 5000 })
    const attached = await remote.attach('web')
    await attached.instance.start()
    const spawned = await remote.spawn(['--name', 'db'])
    expect(await spawned.get()).toMatchObject({ name: 'db' })
    session.abort() // the session ends: what it carried is closed
    const local = new Client(service, { timeout: 5000 })
    await expect.poll(() => local.get(['web']).then((info) => (info as ContainerInfo).state)).toBe('running')
    const again = await local.attach('web')
    again.output.cancel()
    expect(await again.instance.get()).toMatchObject({ state: 'running' })
    const { instance: db, output } = await local.attach('db')
    output.cancel()
    await db.start()
    expect(await db.get()).toMatchObject({ state: 'running' })
    controller.abort()
  })
})

describe('the simulator backend', () => {
  function context(
    controller: AbortController,
    out: Service = notImplemented,
  ): BackendContext & {
    lines: string[]
  } {
    const lines: string[] = []
    return {
      out,
      signal: controller.signal,
      spawn: () => Promise.reject(new Error('unused')),
      log: (l) => lines.push(l),
      lines,
    }
  }

  it('parses its arguments and rejects bad ones with the usage', () => {
    expect(parseSimulatorArgs(['a', 'b'])).toEqual({ logInterval: undefined, containers: ['a', 'b'] })
    expect(parseSimulatorArgs(['--log-interval', '50', 'a'])).toEqual({ logInterval: 50, containers: ['a'] })
    expect(() => parseSimulatorArgs(['--log-interval', 'soon'])).toThrow(/positive number of milliseconds/)
    expect(() => parseSimulatorArgs(['-x'])).toThrow(/unknown option "-x"; usage: simulator/)
  })

  it('forwards verbs it does not answer to the next stage, and logs state changes', async () => {
    const controller = new AbortController()
    const [forwarded, out] = pipe<Message>()
    const ctx = context(controller, out)
    const service = await backend.spawn(['web'], ctx)
    const client = new Client(service, { timeout: 5000 })
    const posted = client.post('Log', ['from upstream'])
    const message = await forwarded.receive({ signal: signal() })
    await posted
    expect(message).toMatchObject({ verb: 'Log', args: ['from upstream'] })
    const { instance, output } = await client.attach('web')
    output.cancel()
    await instance.start()
    expect(ctx.lines).toContain('web: start')
    controller.abort()
  })

  it('ends watchers when its pipeline stops', async () => {
    const controller = new AbortController()
    const service = await backend.spawn([], context(controller))
    const events = await new Client(service).watch([], { signal: signal() })
    controller.abort()
    await expect(events.receive({ signal: signal() })).rejects.toMatchObject({ name: 'ChannelClosedError' })
  })
})
