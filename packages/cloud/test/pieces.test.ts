import { Client, ConflictError, notImplemented, RemoteError, UnavailableError } from '@libswarm/core'
import { describe, expect, it } from 'vitest'
import {
  CloudCaller,
  type CloudProvider,
  cloudService,
  eventsFor,
  newText,
  paginate,
  RenewingToken,
} from '../src/index.ts'
import { FakeFleet, MemoryProvider, memoryCloud } from '../src/testing.ts'

const signal = () => AbortSignal.timeout(10_000)

describe('RenewingToken', () => {
  it('fetches once, renews before expiry, and again after invalidate', async () => {
    let now = 1_000_000
    let n = 0
    const token = new RenewingToken(async () => ({ value: `t${++n}`, expiresAt: now + 600_000 }), {
      renewBeforeMs: 60_000,
      now: () => now,
    })
    const [a, b] = await Promise.all([token.get(signal()), token.get(signal())])
    expect([a, b, token.fetches]).toEqual(['t1', 't1', 1])
    now += 550_000 // 50 s left: within the 60 s renew margin
    expect(await token.get(signal())).toBe('t2')
    token.invalidate()
    expect(await token.get(signal())).toBe('t3')
  })
})

describe('console snapshots', () => {
  it('gives only what a snapshot adds, also after the window scrolled', () => {
    expect(newText('', 'a\nb\n')).toBe('a\nb\n')
    expect(newText('a\nb\n', 'a\nb\nc\n')).toBe('c\n')
    const old = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n')
    const scrolled = `${old.slice(1000)}\nline 200\n`
    expect(newText(old, scrolled)).toBe('\nline 200\n')
  })
})

describe('paginate', () => {
  it('stops with a clear error when a provider hands out the same cursor twice', async () => {
    const provider = new MemoryProvider(new FakeFleet())
    provider.list = async () => ({ items: [], next: 'same' })
    const caller = new CloudCaller(provider as CloudProvider<unknown>)
    const pages = paginate(caller, provider, { signal: signal() })
    await expect(
      (async () => {
        for await (const _ of pages) {
          /* drain */
        }
      })(),
    ).rejects.toThrow(RemoteError)
    expect(caller.stats.requests).toBe(2)
  })
})

describe('requests', () => {
  it('waits what Retry-After asks before trying again', async () => {
    const fleet = new FakeFleet()
    const caller = new CloudCaller(new MemoryProvider(fleet) as CloudProvider<unknown>, { retryDelayMs: 1 })
    fleet.faults.throttle(1, 300)
    const provider = new MemoryProvider(fleet)
    const started = Date.now()
    await caller.call('Ls', (call) => provider.list({ ...call, cursor: undefined, pageSize: 10 }), {
      signal: signal(),
    })
    expect(Date.now() - started).toBeGreaterThanOrEqual(280)
  })

  it('holds requests while the rate-limit window is spent, and refuses a wait past the budget', async () => {
    const provider = new MemoryProvider(new FakeFleet())
    const caller = new CloudCaller(provider as CloudProvider<unknown>, { retryBudgetMs: 5_000 })
    await caller.call('Ls', async (call) => call.rateLimit({ remaining: 0, resetAt: Date.now() + 300 }), {
      signal: signal(),
    })
    const started = Date.now()
    await caller.call('Ls', async () => 'ok', { signal: signal() })
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    await caller.call('Ls', async (call) => call.rateLimit({ remaining: 0, resetAt: Date.now() + 60_000 }), {
      signal: signal(),
    })
    await expect(caller.call('Ls', async () => 'ok', { signal: signal() })).rejects.toThrow(UnavailableError)
  })

  it('does not retry a create that failed without an answer unless the provider dedupes by token', async () => {
    const provider = new MemoryProvider(new FakeFleet())
    let tries = 0
    const caller = new CloudCaller(
      { ...provider, classify: () => ({ kind: 'unavailable', message: 'connection reset' }) } as never,
      { retryDelayMs: 1 },
    )
    const fail = async () => {
      tries++
      throw new Error('reset')
    }
    await expect(caller.call('Spawn', fail, { signal: signal(), idempotent: false })).rejects.toThrow(
      UnavailableError,
    )
    expect(tries).toBe(1)
    await expect(caller.call('Spawn', fail, { signal: signal(), idempotent: true })).rejects.toThrow(
      UnavailableError,
    )
    expect(tries).toBe(1 + 9)
  })
})

describe('the account service', () => {
  it('fails a Spawn whose instance dies while booting, naming its state', async () => {
    const { backend } = memoryCloud()
    const controller = new AbortController()
    const service = await backend.spawn(['--wait-interval=0.02'], {
      out: notImplemented,
      signal: controller.signal,
      log: () => {},
      spawn: () => Promise.reject(new Error('unused')),
    })
    try {
      const error = await new Client(service)
        .spawn(['doomed', '--image=x', '--fail-boot'])
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConflictError)
      expect((error as Error).message).toMatch(/^\[adapter-memcloud\] doomed \(i-[0-9a-f]+\) is terminated/)
    } finally {
      controller.abort()
    }
  })

  it('answers a bare Start with NOT_IMPLEMENTED (a pipeline start), and Stop --rm without names with a clear error', async () => {
    const client = new Client(cloudService(new MemoryProvider(new FakeFleet())))
    await expect(client.start()).rejects.toThrow(/Start NAME\.\.\. starts instances/)
    await expect(client.stop(['--rm'])).rejects.toThrow(/Stop --rm needs NAME/)
  })
})

describe('Watch events', () => {
  const d = (state: string) =>
    ({
      id: 'i-1',
      name: 'web',
      state,
      providerState: state,
      addresses: { public: [], private: [] },
      image: null,
      type: null,
      zone: null,
      tags: {},
      created: null,
    }) as never
  it('names each transition', () => {
    expect(eventsFor(undefined, d('running'), 'f', 'web').map((e) => e.type)).toEqual(['create', 'start'])
    expect(
      eventsFor({ state: 'running', fingerprint: 'f' }, d('stopping'), 'f', 'web').map((e) => e.type),
    ).toEqual(['change'])
    expect(
      eventsFor({ state: 'stopping', fingerprint: 'f' }, d('stopped'), 'f', 'web').map((e) => e.type),
    ).toEqual(['stop'])
    expect(
      eventsFor({ state: 'running', fingerprint: 'f' }, d('terminating'), 'f', 'web').map((e) => e.type),
    ).toEqual(['stop', 'delete'])
    expect(eventsFor({ state: 'terminating', fingerprint: 'f' }, d('terminated'), 'f', 'web')).toEqual([])
    expect(
      eventsFor({ state: 'running', fingerprint: 'f' }, d('running'), 'g', 'web').map((e) => e.type),
    ).toEqual(['change'])
  })
})
