import {
  type Backend,
  BackendRegistry,
  type Capabilities,
  Client,
  InvalidArgumentError,
  isAttachment,
  isByteStream,
  isLibswarmError,
  LibswarmError,
  type Message,
  NotFoundError,
  NotImplementedError,
  pipe,
  type Receiver,
  type Service,
  VERBS,
  type Verb,
  type WatchEvent,
} from '@libswarm/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { overSession } from './session.ts'

/** How an adapter is put under test. */
export interface AdapterTestSetup {
  /** Names the suite, e.g. `simulator`. */
  name: string
  /** The backend under test (what the adapter package exports). */
  backend: Backend
  /** Args the instance under test is spawned with, e.g. the URL of the server `before` started. Default: none. */
  args?: () => string[] | Promise<string[]>
  /**
   * Args of a `Spawn` request that creates a child, e.g. `['web', 'bb:latest', 'sleep', '60']`.
   * Needed when the capabilities declare `spawn`. Called once per use, so it can make fresh names.
   */
  spawnArgs?: () => string[] | Promise<string[]>
  /** Args `backend.spawn` must refuse with InvalidArgumentError (e.g. `['--no-such-option']`). */
  badSpawnArgs?: string[]
  /** Other backends the instance may spawn through `context.spawn` (aggregates). */
  backends?: Backend[]
  /** Runs once before the suite: start a real server here. */
  before?: () => unknown
  /** Runs once after the suite: stop it here (by PID). */
  after?: () => unknown
  /** Overrides `backend.capabilities`. */
  capabilities?: Capabilities
  /**
   * Reads the run state out of what Get answers: `'running'`, or anything else for not running.
   * Default: looks at `running` (boolean), `State.Running` (Docker), or a `state`/`status` string
   * (running/up/started/active count as running).
   */
  runState?: (description: unknown) => string | undefined
  /** Cases the adapter cannot pass, by name (see {@link TEST_NAMES}), each group with its reason. */
  skip?: { reason: string; tests: string[] }[]
  /** How long one call may wait for its reply, in ms. Default: 10 000. */
  timeout?: number
  /** Where the adapter is reached. Default: both, `memory` and `session` (a real TCP session). */
  transports?: ('memory' | 'session')[]
}

/** The names of the cases, as the skip list names them (optionally prefixed with `memory: ` or `session: `). */
export const TEST_NAMES = [
  'spawns an instance from its args',
  'declared verbs answer',
  'Ls answers the names, sorted',
  'what Ls lists can be attached and described',
  'Get describes the instance as JSON',
  'Spawn then Ls shows the new child',
  'Start and Stop change what Get reports',
  'Watch reports the change',
  'Connect gives a byte stream',
  'verbs it does not implement answer not implemented',
  'an unknown verb answers a clear Error',
  'bad spawn arguments answer InvalidArgument with the usage line',
  'Attach to an unknown name answers NotFound',
  'malformed args answer a clear Error, not a crash',
  'hostile verb args (empty, 1 MB, unicode, NUL, shell metacharacters) answer, never hang or crash',
] as const

type TestName = (typeof TEST_NAMES)[number]

/** Arguments a hostile caller sends: none may crash, hang, or reach a shell unquoted. */
const HOSTILE_ARGS: readonly (readonly [string, string])[] = [
  ['an empty string', ''],
  ['a 1 MB string', 'x'.repeat(1024 * 1024)],
  ['unicode', 'ünï\u00a0cødé 🐳 \u202e\ufeff'],
  ['a NUL byte', 'name\u0000; echo injected'],
  ['shell metacharacters', '; rm -rf / $(x) `y` | cat /etc/passwd && \'" > /tmp/pwned'],
  ['a path traversal', '../../../../etc/passwd'],
]

/** Verbs that carry information rather than ask for something; an adapter may accept them silently. */
const INFORMATIONAL: readonly Verb[] = ['Ack', 'Log', 'Error']

interface Instance {
  client: Client
  service: Service
}

/** Default {@link AdapterTestSetup.runState}. */
export function defaultRunState(description: unknown): string | undefined {
  if (typeof description !== 'object' || description === null) return undefined
  const d = description as Record<string, unknown>
  if (typeof d.running === 'boolean') return d.running ? 'running' : 'stopped'
  const State = d.State as Record<string, unknown> | undefined
  if (typeof State === 'object' && State !== null && typeof State.Running === 'boolean') {
    return State.Running ? 'running' : 'stopped'
  }
  for (const key of ['state', 'State', 'status', 'Status']) {
    const value = d[key]
    if (typeof value === 'string') return /^(running|up|started|active)\b/i.test(value) ? 'running' : value
  }
  return undefined
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** Sends a raw message and resolves with the reply, or with the error `send` rejected with. */
async function rawCall(
  service: Service,
  message: Omit<Message, 'ret'>,
  ms: number,
): Promise<Message | Error> {
  const [replies, ret] = pipe<Message>()
  try {
    await service.send({ ...message, ret } as Message, { signal: AbortSignal.timeout(ms) })
    return await replies.receive({ signal: AbortSignal.timeout(ms) })
  } catch (error) {
    return error as Error
  } finally {
    replies.cancel()
  }
}

async function closeStream(stream: unknown): Promise<void> {
  const s = stream as {
    destroy?: () => void
    cancel?: () => Promise<void>
    abort?: () => Promise<void>
    close?: () => Promise<void>
  }
  try {
    if (typeof s.destroy === 'function') s.destroy()
    else if (typeof s.cancel === 'function') await s.cancel()
    else if (typeof s.abort === 'function') await s.abort()
    else if (typeof s.close === 'function') await s.close()
  } catch {
    // Best effort.
  }
}

/** Receives events until one matches, or fails after `ms`. */
async function waitForEvent(
  events: Receiver<WatchEvent>,
  match: (event: WatchEvent) => boolean,
  ms: number,
  what: string,
): Promise<WatchEvent> {
  const signal = AbortSignal.timeout(ms)
  const seen: WatchEvent[] = []
  for (;;) {
    let event: WatchEvent
    try {
      event = await events.receive({ signal })
    } catch (error) {
      throw new Error(`${what}: no matching event within ${ms} ms (saw ${JSON.stringify(seen)})`, {
        cause: error,
      })
    }
    expect(typeof event.type, `a Watch event has a string type: ${JSON.stringify(event)}`).toBe('string')
    expect(typeof event.name, `a Watch event has a string name: ${JSON.stringify(event)}`).toBe('string')
    seen.push(event)
    if (match(event)) return event
  }
}

/** Registers the suite. Call it at the top level of a test file. */
export function runAdapterCompliance(setup: AdapterTestSetup): void {
  const capabilities: Capabilities = setup.capabilities ?? setup.backend.capabilities ?? { verbs: [] }
  const verbs = new Set<Verb>(capabilities.verbs)
  const timeout = setup.timeout ?? 10_000
  const caseTimeout = timeout * 4
  const runState = setup.runState ?? defaultRunState
  const transports = setup.transports ?? ['memory', 'session']

  const skipReasons = new Map<string, string>()
  for (const group of setup.skip ?? []) for (const test of group.tests) skipReasons.set(test, group.reason)

  describe(`${setup.name}: adapter compliance`, () => {
    beforeAll(async () => {
      await setup.before?.()
    })
    afterAll(async () => {
      await setup.after?.()
    })

    it('the skip list names only existing cases, each with a reason', () => {
      const known = new Set<string>(TEST_NAMES)
      for (const group of setup.skip ?? []) {
        expect(
          typeof group.reason === 'string' && group.reason.trim() !== '',
          'every skip has a reason',
        ).toBe(true)
        for (const test of group.tests) {
          const bare = test.replace(/^(memory|session): /, '')
          expect(
            known.has(bare),
            `skip names an unknown case: "${test}" (cases: ${TEST_NAMES.join('; ')})`,
          ).toBe(true)
        }
      }
    })

    it('the backend is well formed (name, summary, usage, spawn, capabilities)', () => {
      const b = setup.backend
      expect(b.name).toMatch(/^[a-z0-9][a-z0-9._-]*$/)
      expect(typeof b.summary === 'string' && b.summary.length > 0, 'summary is a non-empty line').toBe(true)
      expect(b.summary).not.toContain('\n')
      expect(typeof b.usage === 'string' && b.usage.startsWith(b.name), 'usage starts with the name').toBe(
        true,
      )
      expect(typeof b.spawn).toBe('function')
      for (const verb of capabilities.verbs) expect(VERBS).toContain(verb)
    })

    describe.each(transports)('%s', (transport) => {
      const cleanups: (() => Promise<void>)[] = []
      afterEach(async () => {
        for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
      })

      const registry = new BackendRegistry([setup.backend, ...(setup.backends ?? [])])

      /** Spawns a fresh instance and reaches it through the transport. */
      async function instance(): Promise<Instance> {
        const controller = new AbortController()
        const args = (await setup.args?.()) ?? []
        const local = await registry.spawn([setup.backend.name, ...args], { signal: controller.signal })
        cleanups.push(async () => {
          controller.abort()
          await withTimeout(local.close(), timeout, 'closing the instance').catch(() => {})
        })
        let service = local
        if (transport === 'session') {
          const remote = await overSession(local, timeout)
          cleanups.push(remote.close)
          service = remote.service
        }
        return { client: new Client(service, { timeout }), service }
      }

      /** Spawns a child and returns it with its name (found by comparing Ls before and after). */
      async function spawnChild(parent: Client): Promise<{ child: Client; name: string | undefined }> {
        if (!setup.spawnArgs) {
          throw new Error(
            `[adapter-compliance] ${setup.name} declares capabilities.spawn: give setup.spawnArgs (the args of a Spawn that creates a child)`,
          )
        }
        const before = verbs.has('Ls') ? new Set(await parent.ls()) : undefined
        const child = await parent.spawn(await setup.spawnArgs())
        if (!before) return { child, name: undefined }
        const added = (await parent.ls()).filter((name) => !before.has(name))
        return { child, name: added.length === 1 ? added[0] : undefined }
      }

      function test(name: TestName, fn: () => Promise<void>, notApplicable?: string): void {
        const reason = skipReasons.get(name) ?? skipReasons.get(`${transport}: ${name}`)
        if (reason !== undefined) it.skip(`${name} (skipped: ${reason})`, fn)
        else if (notApplicable !== undefined) it.skip(`${name} (not declared: ${notApplicable})`, fn)
        else it(name, fn, caseTimeout)
      }

      const need = (verb: Verb) => (verbs.has(verb) ? undefined : `capabilities.verbs lacks ${verb}`)
      const needAll = (...reasons: (string | undefined)[]) => reasons.find((r) => r !== undefined)
      const flag = (key: 'spawn' | 'startStop' | 'watch' | 'connect') =>
        capabilities[key] ? undefined : `capabilities.${key} is not true`

      test('spawns an instance from its args', async () => {
        const { service } = await instance()
        expect(typeof service.send).toBe('function')
      })

      test('declared verbs answer', async () => {
        const { client } = await instance()
        for (const verb of ['Ls', 'Get'] as const) {
          if (!verbs.has(verb)) continue
          const error = await client.call(verb).then(
            () => undefined,
            (e: unknown) => e,
          )
          expect(error, `${verb} is declared but answers "not implemented"`).not.toBeInstanceOf(
            NotImplementedError,
          )
          if (error !== undefined) throw error
        }
        if (verbs.has('Watch')) {
          const events = await client.watch()
          events.cancel()
        }
      })

      test(
        'Ls answers the names, sorted',
        async () => {
          const { client } = await instance()
          const names = await client.ls()
          for (const name of names) expect(typeof name).toBe('string')
          expect(names).toEqual([...names].sort())
        },
        need('Ls'),
      )

      test(
        'what Ls lists can be attached and described',
        async () => {
          const { client } = await instance()
          if (capabilities.spawn && setup.spawnArgs) await spawnChild(client)
          const names = await client.ls()
          for (const name of names.slice(0, 5)) {
            const { instance: child, output } = await client.attach(name)
            output.cancel()
            if (verbs.has('Get')) {
              const description = await child.get()
              expect(description, `Get of "${name}" describes it`).not.toBeUndefined()
            }
          }
        },
        needAll(need('Ls'), need('Attach')),
      )

      test(
        'Get describes the instance as JSON',
        async () => {
          const { client } = await instance()
          const reply = await client.call('Get')
          expect(reply.verb).toBe('Set')
          expect(typeof reply.args[0]).toBe('string')
          expect(() => JSON.parse(reply.args[0]!)).not.toThrow()
        },
        need('Get'),
      )

      test(
        'Spawn then Ls shows the new child',
        async () => {
          const { client } = await instance()
          const { child, name } = await spawnChild(client)
          expect(child).toBeInstanceOf(Client)
          expect(name, 'exactly one new name appears in Ls after Spawn').toBeTypeOf('string')
        },
        needAll(flag('spawn'), need('Spawn'), need('Ls')),
      )

      test(
        'Start and Stop change what Get reports',
        async () => {
          const { client } = await instance()
          const target = capabilities.spawn ? (await spawnChild(client)).child : client
          await target.start()
          const started = await target.get()
          expect(runState(started), `Get after Start reports running: ${JSON.stringify(started)}`).toBe(
            'running',
          )
          await target.stop()
          const stopped = await target.get()
          expect(
            runState(stopped),
            `Get after Stop reports not running: ${JSON.stringify(stopped)}`,
          ).not.toBe('running')
        },
        capabilities.spawn
          ? flag('startStop')
          : needAll(flag('startStop'), need('Start'), need('Stop'), need('Get')),
      )

      test(
        'Watch reports the change',
        async () => {
          const { client } = await instance()
          const events = await client.watch()
          try {
            let target = client
            let name: string | undefined
            if (capabilities.spawn) {
              const spawned = await spawnChild(client)
              target = spawned.child
              name = spawned.name
              if (name !== undefined) {
                const created = name
                await waitForEvent(
                  events,
                  (e) => e.name.includes(created),
                  timeout,
                  `Watch after Spawn of "${created}"`,
                )
              }
            }
            if (capabilities.startStop) {
              await target.start()
              const started = name
              await waitForEvent(
                events,
                (e) => started === undefined || e.name.includes(started),
                timeout,
                'Watch after Start',
              )
            } else if (!capabilities.spawn) {
              throw new Error(
                '[adapter-compliance] Watch can only be checked with capabilities.spawn or startStop (to cause a change); skip this case with a reason',
              )
            }
          } finally {
            events.cancel()
          }
        },
        needAll(flag('watch'), need('Watch')),
      )

      test(
        'Connect gives a byte stream',
        async () => {
          const { client } = await instance()
          // Connect reaches a running thing: a spawned child (when the adapter spawns) or the
          // instance, started first when the adapter starts and stops things.
          const target = capabilities.spawn ? (await spawnChild(client)).child : client
          if (capabilities.startStop) await target.start()
          try {
            const stream = await target.connect()
            expect(
              isByteStream(stream) || isAttachment(stream),
              'Connect answers a byte stream or attachment',
            ).toBe(true)
            await closeStream(stream)
          } finally {
            if (capabilities.startStop) await target.stop().catch(() => {})
          }
        },
        capabilities.spawn ? flag('connect') : needAll(flag('connect'), need('Connect')),
      )

      test('verbs it does not implement answer not implemented', async () => {
        const { client } = await instance()
        for (const verb of VERBS) {
          if (verbs.has(verb) || INFORMATIONAL.includes(verb)) continue
          const error = await client.call(verb).then(
            (reply) => new Error(`${verb} is not declared but answered ${reply.verb}`),
            (e: unknown) => e,
          )
          expect(error, `${verb}: ${String(error)}`).toBeInstanceOf(NotImplementedError)
          expect((error as Error).message).toContain(verb)
        }
      })

      test('an unknown verb answers a clear Error', async () => {
        const { service } = await instance()
        const answer = await rawCall(service, { verb: 'Frobnicate' as Verb, args: [] }, timeout)
        if (answer instanceof Error) {
          expect(isLibswarmError(answer), `send rejected with a typed error: ${answer.message}`).toBe(true)
          expect(answer.message).toMatch(/Frobnicate/)
        } else {
          expect(answer.verb).toBe('Error')
          expect(answer.args[0]).toMatch(/Frobnicate/)
        }
      })

      test('bad spawn arguments answer InvalidArgument with the usage line', async () => {
        if (!setup.badSpawnArgs) {
          throw new Error(
            `[adapter-compliance] give setup.badSpawnArgs (args ${setup.backend.name} must refuse), or skip this case with a reason`,
          )
        }
        const error = await registry.spawn([setup.backend.name, ...setup.badSpawnArgs]).then(
          async (service) => {
            await service.close()
            return new Error(`spawn accepted ${JSON.stringify(setup.badSpawnArgs)}`)
          },
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(InvalidArgumentError)
        expect((error as Error).message).toContain(setup.backend.usage)
      })

      test(
        'Attach to an unknown name answers NotFound',
        async () => {
          const { client } = await instance()
          await expect(client.attach('no-such-child-for-compliance')).rejects.toBeInstanceOf(NotFoundError)
        },
        need('Attach'),
      )

      test('malformed args answer a clear Error, not a crash', async () => {
        const { service } = await instance()
        const verb = verbs.has('Get') ? 'Get' : (capabilities.verbs[0] ?? 'Ls')
        const answer = await rawCall(service, { verb, args: [42, { x: 1 }] as unknown as string[] }, timeout)
        if (answer instanceof Error) {
          expect(answer, `send rejected with a typed error: ${answer.message}`).toBeInstanceOf(LibswarmError)
        } else {
          expect(answer.verb, `a ${verb} with non-string args answers Error`).toBe('Error')
          expect(typeof answer.args[0]).toBe('string')
        }
        // The instance still answers afterwards.
        if (verbs.has('Get')) await new Client(service, { timeout }).get()
      })

      test('hostile verb args (empty, 1 MB, unicode, NUL, shell metacharacters) answer, never hang or crash', async () => {
        const { service } = await instance()
        // Verbs that name or describe a thing; Start/Stop/Spawn would act on the host for real.
        const targets = (['Attach', 'Get', 'Ls', 'Connect'] as const).filter((verb) => verbs.has(verb))
        for (const verb of targets) {
          for (const [label, arg] of HOSTILE_ARGS) {
            const answer = await rawCall(service, { verb, args: [arg] }, timeout)
            if (answer instanceof Error) {
              expect(answer.message, `${verb} ${label}: no answer (a hang)`).not.toMatch(/no answer within/)
              expect(
                answer,
                `${verb} ${label}: send rejected with an untyped error: ${answer.message}`,
              ).toBeInstanceOf(LibswarmError)
              continue
            }
            if (answer.verb === 'Error') {
              expect(typeof answer.args[0], `${verb} ${label}: the Error has a message`).toBe('string')
              expect(
                answer.args[0]!.length,
                `${verb} ${label}: the Error message is not empty`,
              ).toBeGreaterThan(0)
            }
            // A connection or child the hostile name happened to reach is released at once.
            if (answer.ret) await answer.ret.close().catch(() => {})
          }
        }
        // The instance still answers afterwards.
        if (verbs.has('Get')) await new Client(service, { timeout }).get()
        else if (verbs.has('Ls')) await new Client(service, { timeout }).ls()
      })
    })
  })
}
