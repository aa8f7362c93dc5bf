import { backend as simulator } from '@libswarm/adapter-simulator'
import { BackendRegistry, Client, InvalidArgumentError, NotFoundError, Server } from '@libswarm/core'
import { describe, expect, it } from 'vitest'
import { aggregate, backend, memberSpecs } from '../src/index.ts'

async function twoHosts() {
  const controller = new AbortController()
  const registry = new BackendRegistry([backend, simulator])
  const service = await registry.spawn(
    ['aggregate', 'east=simulator --log-interval 50 web', 'west=simulator db'],
    {
      signal: controller.signal,
    },
  )
  return { client: new Client(service, { timeout: 5000 }), controller }
}

describe('aggregate', () => {
  it('names members from NAME=SPEC or the backend name', () => {
    expect(memberSpecs(['a=simulator x', 'simulator', 'simulator'])).toEqual([
      { name: 'a', spec: 'simulator x' },
      { name: 'simulator', spec: 'simulator' },
      { name: 'simulator-2', spec: 'simulator' },
    ])
    expect(() => memberSpecs([])).toThrow(/at least one member/)
  })

  it('lists both members children, each name saying where it lives', async () => {
    const { client, controller } = await twoHosts()
    expect(await client.ls()).toEqual(['east:web', 'west:db'])
    controller.abort()
  })

  it('Ls --long merges the members lists, names qualified, and builds one for a member without it', async () => {
    const { client, controller } = await twoHosts()
    const reply = await client.call('Ls', ['--long'])
    expect(reply.args.map((arg) => JSON.parse(arg))).toEqual([
      expect.objectContaining({
        name: 'east:web',
        member: 'east',
        state: 'created',
        image: 'busybox:latest',
      }),
      expect.objectContaining({ name: 'west:db', member: 'west', state: 'created' }),
    ])
    controller.abort()
    // A member whose Ls takes no flag: Ls, then Attach + Get per child.
    const plain = new Server({
      onLs: (args) => {
        if (args.length > 0) throw new InvalidArgumentError('Ls takes no arguments')
        return ['one']
      },
      onAttach: () => new Server({ onGet: () => ({ state: 'running' }) }),
    })
    const mixed = new Client(aggregate([{ name: 'p', spec: 'plain', service: plain }]), { timeout: 5000 })
    const entries = (await mixed.call('Ls', ['--long'])).args.map((arg) => JSON.parse(arg))
    expect(entries).toEqual([{ name: 'p:one', member: 'p', state: 'running' }])
    await expect(mixed.call('Ls', ['--wide'])).rejects.toThrow(/--wide/)
  })

  it('passes Watch --since/--until to members; one that refuses them is watched live and ended at until', async () => {
    const { client, controller } = await twoHosts()
    const until = Date.now() + 500
    const events = await client.watch(
      [`--since=${(Date.now() - 60_000) / 1000}`, `--until=${until / 1000}`],
      {
        signal: AbortSignal.timeout(5000),
      },
    )
    await client.spawn(['--on=west', '--name', 'cache', 'redis'])
    const seen: string[] = []
    for await (const event of events) seen.push(`${event.type} ${event.name}`)
    expect(seen).toEqual(['create west:cache'])
    expect(Date.now()).toBeGreaterThanOrEqual(until - 50)
    await expect(client.watch(['--since=yesterday'])).rejects.toThrow(/--since=yesterday/)
    controller.abort()
  })

  it('routes Get NAME to the owner, by qualified or bare name', async () => {
    const { client, controller } = await twoHosts()
    expect(await client.get(['east:web'])).toMatchObject({ name: 'web', state: 'created' })
    expect(await client.get(['db'])).toMatchObject({ name: 'db' })
    await expect(client.get(['nosuch'])).rejects.toThrow(NotFoundError)
    expect(await client.get()).toMatchObject({ members: [{ name: 'east' }, { name: 'west' }] })
    controller.abort()
  })

  it('routes Attach to the owner, by qualified or bare name', async () => {
    const { client, controller } = await twoHosts()
    const east = await client.attach('east:web')
    expect(await east.instance.get()).toMatchObject({ name: 'web' })
    east.output.cancel()
    const bare = await client.attach('db')
    expect(await bare.instance.get()).toMatchObject({ name: 'db' })
    bare.output.cancel()
    await expect(client.attach('nowhere')).rejects.toBeInstanceOf(NotFoundError)
    controller.abort()
  })

  it('spawns round robin, or on the member asked for', async () => {
    const { client, controller } = await twoHosts()
    await client.spawn(['--name', 'one', 'bb'])
    await client.spawn(['--name', 'two', 'bb'])
    await client.spawn(['--on=west', '--name', 'three', 'bb'])
    expect(await client.ls()).toEqual(['east:one', 'east:web', 'west:db', 'west:three', 'west:two'])
    await expect(client.spawn(['--on=north', 'bb'])).rejects.toThrow(/no such member/)
    controller.abort()
  })

  it('merges Watch streams from both members', async () => {
    const { client, controller } = await twoHosts()
    const events = await client.watch()
    const east = await client.attach('east:web')
    const west = await client.attach('west:db')
    await east.instance.start()
    await west.instance.start()
    const seen = new Set<string>()
    while (seen.size < 2) {
      const event = await events.receive({ signal: AbortSignal.timeout(5000) })
      if (event.type === 'start') seen.add(event.name)
    }
    expect([...seen].sort()).toEqual(['east:web', 'west:db'])
    events.cancel()
    east.output.cancel()
    west.output.cancel()
    controller.abort()
  })
})
