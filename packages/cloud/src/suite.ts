/**
 * @libswarm/cloud/suite: the behaviour every cloud adapter shares, checked against its fake with
 * the injections real clouds do. An adapter's test calls {@link runCloudSuite} with its backend and
 * a `start` that starts its fake; the suite drives the adapter through `@libswarm/core`'s Client,
 * exactly as users do, and checks what the fake saw (requests, pages, throttles).
 *
 * @example
 * import { runCloudSuite } from '@libswarm/cloud/suite'
 * import { backend } from '../src/index.ts'
 * import { startFakeEc2 } from '../src/testing.ts'
 *
 * runCloudSuite({
 *   name: 'ec2',
 *   backend,
 *   spawnArgs: ['--image=ami-12345678', '--type=t3.micro'],
 *   start: async () => {
 *     const fake = await startFakeEc2()
 *     return { args: [`--endpoint=${fake.url}`, '--region=us-east-1'], fleet: fake.fleet, close: () => fake.close() }
 *   },
 * })
 *
 * @packageDocumentation
 */
import {
  type Backend,
  Client,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  notImplemented,
  type Receiver,
  type Service,
  UnavailableError,
  type WatchEvent,
} from '@libswarm/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FakeFleet } from './internal/fake.ts'
import type { CloudInstance } from './internal/types.ts'

/** A started fake, as {@link CloudSuiteSetup.start} answers it. */
export interface CloudSuiteFake {
  /**
   * The backend args that reach the fake (endpoint, region, credentials that renew: the suite makes
   * them expire with `fleet.faults.expireCredentials()` and expects the adapter to carry on).
   */
  args: string[]
  /** The fake's instances and injections. */
  fleet: FakeFleet
  /** Stops the fake. */
  close(): Promise<void> | void
}

/** How a cloud adapter is put under the suite. */
export interface CloudSuiteSetup {
  /** Names the suite: `ec2`. */
  name: string
  /** The backend under test. */
  backend: Backend
  /** Starts the fake (once, before the suite). */
  start(): Promise<CloudSuiteFake>
  /** Spawn flags that make an instance on the fake (the suite adds the name): `['--image=ami-12345678']`. */
  spawnArgs: string[]
  /** The image `spawnArgs` boots, as `fleet.populate` takes it. Default: the `--image` of `spawnArgs`. */
  image?: string
  /** The type `fleet.populate` gives instances. Default: `small`. */
  type?: string
  /** The provider's largest page (its `maxPageSize`); the paging case checks the request count against it. */
  maxPageSize: number
  /** Cases the adapter cannot pass, by name, with the reason. */
  skip?: { reason: string; tests: string[] }[]
}

/** The names of the cases. */
export const CLOUD_SUITE_CASES = [
  'Ls follows every page (pages of one)',
  'Ls --long gives every instance in the Get shape in the fewest pages',
  'Get answers the shared shape with the provider record',
  'throttled requests are retried with backoff',
  'throttling past the budget answers UnavailableError',
  'Spawn waits through a slow start and logs progress',
  'Spawn with the same --token makes one instance',
  'a new instance NotFound at first (eventual consistency) is found',
  'expired credentials are renewed',
  'Start and Stop wait for the state, Stop of a stopped instance is Ack',
  'Stop --rm refuses a running instance, --force removes it',
  'Set changes tags',
  'Watch reports create, start, stop and delete within the budget',
  'Attach --logs gives the console output',
  'unknown names answer NotFound without a request',
] as const

/** Fast timings for a fake: the suite's instances are spawned with these common flags. */
const FAST = [
  '--wait-interval=0.05',
  '--watch-interval=0.1',
  '--watch-budget=6000',
  '--retry-delay=0.01',
  '--consistency=5',
  '--wait-timeout=20',
]

/** Registers the suite (see the module doc). Call it at the top level of a test file. */
export function runCloudSuite(setup: CloudSuiteSetup): void {
  const skips = new Map<string, string>()
  for (const group of setup.skip ?? []) for (const test of group.tests) skips.set(test, group.reason)
  const image =
    setup.image ??
    setup.spawnArgs.find((a) => a.startsWith('--image='))?.slice('--image='.length) ??
    'image-1'
  const type = setup.type ?? 'small'

  describe(`${setup.name}: cloud suite`, () => {
    let fake: CloudSuiteFake
    const opened: AbortController[] = []
    let n = 0

    beforeAll(async () => {
      fake = await setup.start()
    })
    afterAll(async () => {
      await fake?.close()
    })
    afterEach(() => {
      for (const controller of opened.splice(0)) controller.abort()
      fake.fleet.faults.reset()
      fake.fleet.clear() // each case makes its own instances; a big listing left over would slow the next
    })

    /** A fresh instance of the backend on the fake, with its log lines. */
    async function open(
      extra: string[] = [],
    ): Promise<{ client: Client; service: Service; lines: string[] }> {
      const controller = new AbortController()
      opened.push(controller)
      const lines: string[] = []
      const service = await setup.backend.spawn([...fake.args, ...FAST, ...extra], {
        out: notImplemented,
        signal: controller.signal,
        log: (line) => lines.push(line),
        spawn: () => Promise.reject(new Error('not used')),
      })
      return { client: new Client(service, { timeout: 30_000 }), service, lines }
    }

    const fresh = () => `suite-${process.pid}-${++n}`

    function test(name: (typeof CLOUD_SUITE_CASES)[number], fn: () => Promise<void>): void {
      const reason = skips.get(name)
      if (reason) it.skip(`${name} (skipped: ${reason})`, fn)
      else it(name, fn, 60_000)
    }

    async function until(
      events: Receiver<WatchEvent>,
      match: (e: WatchEvent) => boolean,
      seen: WatchEvent[],
    ) {
      const signal = AbortSignal.timeout(15_000)
      for (;;) {
        const event = await events.receive({ signal }).catch((error: unknown) => {
          throw new Error(`no matching Watch event within 15 s; saw ${JSON.stringify(seen)}`, {
            cause: error,
          })
        })
        seen.push(event)
        if (match(event)) return event
      }
    }

    test('Ls follows every page (pages of one)', async () => {
      const { client } = await open()
      const prefix = fresh()
      fake.fleet.populate(7, { image, type, namePrefix: `${prefix}-` })
      const before = fake.fleet.list().length
      fake.fleet.faults.pageSize = 1
      const names = await client.ls()
      for (let i = 0; i < 7; i++) expect(names).toContain(`${prefix}-${i}`)
      // Pages of one: one request per instance listed, and no instance lost or repeated.
      expect(fake.fleet.faults.total).toBeGreaterThanOrEqual(before)
      expect(new Set(names).size).toBe(names.length)
    })

    test('Ls --long gives every instance in the Get shape in the fewest pages', async () => {
      const { client } = await open()
      const prefix = fresh()
      fake.fleet.populate(setup.maxPageSize + 3, { image, type, namePrefix: `${prefix}-` })
      const total = fake.fleet.list().length
      fake.fleet.faults.reset()
      const entries = (await client.call('Ls', ['--long'])).args.map(
        (text) => JSON.parse(text) as CloudInstance,
      )
      const mine = entries.filter((e) => e.name.startsWith(`${prefix}-`))
      expect(mine).toHaveLength(setup.maxPageSize + 3)
      for (const e of mine.slice(0, 3)) {
        expect(e).toMatchObject({ id: expect.any(String), state: 'running', provider: setup.backend.name })
        expect(e.record, 'Ls --long leaves the record out unless --full').toBeUndefined()
      }
      expect(fake.fleet.faults.total).toBe(Math.ceil(total / setup.maxPageSize))
      const full = (await client.call('Ls', ['--long', '--full'])).args.map(
        (text) => JSON.parse(text) as CloudInstance,
      )
      expect(full.find((e) => e.name === `${prefix}-0`)?.record).toBeDefined()
    })

    test('Get answers the shared shape with the provider record', async () => {
      const { client } = await open()
      const name = fresh()
      const child = await client.spawn([name, ...setup.spawnArgs, '--tag=team=ops'])
      const got = await child.get<CloudInstance>()
      expect(Object.keys(got)[0]).toBe('name')
      expect(got).toMatchObject({
        name,
        state: 'running',
        provider: setup.backend.name,
        tags: { team: 'ops' },
      })
      for (const key of ['id', 'providerState', 'image', 'type', 'zone', 'created'] as const)
        expect(typeof got[key], key).toBe('string')
      expect(Array.isArray(got.addresses.private) && Array.isArray(got.addresses.public)).toBe(true)
      expect(got.record).toBeTypeOf('object')
      expect(await client.get<CloudInstance>([name])).toMatchObject({ id: got.id, name })
    })

    test('throttled requests are retried with backoff', async () => {
      const { client, lines } = await open()
      fake.fleet.faults.throttle(3)
      await client.ls()
      expect(fake.fleet.faults.throttled).toBe(3)
      expect(lines.filter((l) => /retrying in \d+ ms/.test(l))).toHaveLength(3)
      expect(
        (await client.get<{ requests: { throttled: number; retries: number } }>()).requests,
      ).toMatchObject({
        throttled: 3,
        retries: 3,
      })
    })

    test('throttling past the budget answers UnavailableError', async () => {
      const { client } = await open(['--retries=2'])
      fake.fleet.faults.throttle(1000)
      const error = await client.ls().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect((error as Error).message).toMatch(
        new RegExp(`^\\[adapter-${setup.backend.name}\\] Ls: .*kept throttling.*after 3 tries`),
      )
      expect(fake.fleet.faults.throttled).toBe(3)
    })

    test('Spawn waits through a slow start and logs progress', async () => {
      const { client, lines } = await open()
      fake.fleet.faults.transitionMs = 400
      const started = Date.now()
      const child = await client.spawn([fresh(), ...setup.spawnArgs])
      expect(Date.now() - started).toBeGreaterThanOrEqual(350)
      expect((await child.get<CloudInstance>()).state).toBe('running')
      expect(lines.some((l) => /: pending, waiting for running/.test(l))).toBe(true)
      expect(lines.some((l) => /: running \(.+\) after [\d.]+ s/.test(l))).toBe(true)
    })

    test('Spawn with the same --token makes one instance', async () => {
      const { client } = await open()
      const name = fresh()
      const token = `token-${name}`
      const first = await client.spawn([name, ...setup.spawnArgs, `--token=${token}`])
      const again = await client.spawn([name, ...setup.spawnArgs, `--token=${token}`])
      const a = await first.get<CloudInstance>()
      const b = await again.get<CloudInstance>()
      expect(b.id).toBe(a.id)
      expect(fake.fleet.list().filter((i) => i.tags.get('Name') === name)).toHaveLength(1)
      await expect(client.spawn([name, ...setup.spawnArgs])).rejects.toBeInstanceOf(ConflictError)
    })

    test('a new instance NotFound at first (eventual consistency) is found', async () => {
      const { client, lines } = await open()
      fake.fleet.faults.consistencyMs = 3000
      const name = fresh()
      const child = await client.spawn([name, ...setup.spawnArgs, '--no-wait'])
      expect(await client.ls()).toContain(name) // read your writes while the provider catches up
      await child.set(['stage=new'])
      expect((await child.get<CloudInstance>()).tags.stage).toBe('new')
      expect(lines.some((l) => /not visible yet \(eventual consistency\)/.test(l))).toBe(true)
    })

    test('expired credentials are renewed', async () => {
      const { client, lines } = await open()
      await client.ls()
      fake.fleet.faults.expireCredentials()
      await client.ls()
      expect(lines.some((l) => /credentials expired .*renewing them/.test(l))).toBe(true)
      expect((await client.get<{ requests: { renewals: number } }>()).requests.renewals).toBe(1)
    })

    test('Start and Stop wait for the state, Stop of a stopped instance is Ack', async () => {
      const { client } = await open()
      fake.fleet.faults.transitionMs = 200
      const child = await client.spawn([fresh(), ...setup.spawnArgs])
      await child.stop()
      expect((await child.get<CloudInstance>()).state).toBe('stopped')
      await child.stop()
      await child.start()
      expect((await child.get<CloudInstance>()).state).toBe('running')
      await child.start()
      await expect(child.stop(['--force'])).rejects.toBeInstanceOf(InvalidArgumentError)
    })

    test('Stop --rm refuses a running instance, --force removes it', async () => {
      const { client } = await open()
      const name = fresh()
      const child = await client.spawn([name, ...setup.spawnArgs])
      await expect(child.stop(['--rm'])).rejects.toBeInstanceOf(ConflictError)
      await expect(client.stop(['--rm'])).rejects.toBeInstanceOf(InvalidArgumentError)
      await client.stop(['--rm', '--force', name])
      expect(await client.ls()).not.toContain(name)
      await expect(child.get()).rejects.toBeInstanceOf(NotFoundError)
      await expect(client.attach(name)).rejects.toBeInstanceOf(NotFoundError)
    })

    test('Set changes tags', async () => {
      const { client } = await open()
      const name = fresh()
      const child = await client.spawn([name, ...setup.spawnArgs, '--tag=a=1', '--tag=b=2'])
      await child.set(['c=3', '--delete=a'])
      const tags = (await child.get<CloudInstance>()).tags
      expect(tags).toMatchObject({ b: '2', c: '3' })
      expect(tags.a).toBeUndefined()
      await client.set([name, 'd=4'])
      expect((await child.get<CloudInstance>()).tags.d).toBe('4')
      await expect(child.set(['no-equals-sign'])).rejects.toBeInstanceOf(InvalidArgumentError)
    })

    test('Watch reports create, start, stop and delete within the budget', async () => {
      const { client } = await open(['--watch-budget=600', '--watch-interval=0.05'])
      const events = await client.watch()
      const seen: WatchEvent[] = []
      try {
        const name = fresh()
        const child = await client.spawn([name, ...setup.spawnArgs])
        await until(events, (e) => e.name === name && e.type === 'create', seen)
        await until(events, (e) => e.name === name && e.type === 'start', seen)
        await child.stop()
        await until(events, (e) => e.name === name && e.type === 'stop', seen)
        // A change made behind the adapter's back is found by the poller.
        const id = (await child.get<CloudInstance>()).id
        fake.fleet.terminate(id)
        await until(events, (e) => e.name === name && e.type === 'delete', seen)
        // At most 600 requests a minute: 10 per second, whatever the interval asks.
        const polls = (await client.get<{ watch: { polls: number } }>()).watch.polls
        expect(polls).toBeGreaterThan(0)
      } finally {
        events.cancel()
      }
      const stats = (await client.get<{ requests: { watchRequests: number } }>()).requests
      const started = Date.now()
      const before = stats.watchRequests
      const again = await client.watch()
      await new Promise((resolve) => setTimeout(resolve, 1000))
      again.cancel()
      const after = (await client.get<{ requests: { watchRequests: number } }>()).requests.watchRequests
      const seconds = (Date.now() - started) / 1000
      // One page per poll here; a budget of 600 a minute spaces polls at least 100 ms apart.
      expect(after - before).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 1)
    })

    test('Attach --logs gives the console output', async () => {
      const { client } = await open()
      const name = fresh()
      await client.spawn([name, ...setup.spawnArgs, '--user-data=#!/bin/sh\necho hi'])
      const lines: string[] = []
      const logs = await client.open('Attach', [name, '--logs'])
      expect(logs.reply.verb).toBe('Ack')
      for await (const message of logs.rest) {
        if (message.verb === 'Error')
          throw new Error(`Attach --logs ended with an Error: ${message.args.join(' ')}`)
        if (message.verb === 'Log') lines.push(...message.args)
      }
      expect(lines.some((l) => l.includes('Linux version'))).toBe(true)
      expect(lines.some((l) => l.includes('login:'))).toBe(true)
      const tail: string[] = []
      const tailed = await client.open('Attach', [name, '--logs', '--tail=1'])
      for await (const message of tailed.rest) if (message.verb === 'Log') tail.push(...message.args)
      expect(tail).toEqual([lines.at(-1)])
    })

    test('unknown names answer NotFound without a request', async () => {
      const { client } = await open()
      fake.fleet.faults.reset()
      await expect(client.attach('x'.repeat(300))).rejects.toBeInstanceOf(NotFoundError)
      await expect(client.get(['bad\u0000name'])).rejects.toBeInstanceOf(NotFoundError)
      expect(fake.fleet.faults.total).toBe(0)
    })
  })
}
