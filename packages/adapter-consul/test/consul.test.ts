import { createServer, type Server as HttpServer } from 'node:http'
import { type BackendContext, Client, notImplemented, type Receiver, type WatchEvent } from '@libswarm/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import { FakeConsul } from './fake-consul.ts'

function testContext(): BackendContext & { abort(): void; logs: string[] } {
  const controller = new AbortController()
  const logs: string[] = []
  return {
    out: notImplemented,
    signal: controller.signal,
    log: (line) => logs.push(line),
    spawn: () => Promise.reject(new Error('unused')),
    abort: () => controller.abort(),
    logs,
  }
}

/** The next event that satisfies `match`, within `ms`. */
async function until(
  events: Receiver<WatchEvent>,
  match: (e: WatchEvent) => boolean,
  ms = 5000,
): Promise<WatchEvent> {
  const signal = AbortSignal.timeout(ms)
  for (;;) {
    const event = await events.receive({ signal })
    if (match(event)) return event
  }
}

describe('consul adapter against the fake agent', () => {
  let fake: FakeConsul
  let ctx: ReturnType<typeof testContext>
  let consul: Client

  beforeEach(async () => {
    fake = await FakeConsul.start()
    ctx = testContext()
    consul = new Client(await backend.spawn([fake.url, '--wait=30', '--backoff=50'], ctx))
  })
  afterEach(async () => {
    ctx.abort()
    await fake.stop()
  })

  it('Spawn registers an instance with a TTL check it keeps passing; Stop deregisters it', async () => {
    const web = await consul.spawn(['web', '--id=web-1', '--port=8080', '--tags=v1,blue', '--ttl=300ms'])
    expect(await consul.ls()).toEqual(['consul', 'web'])
    const { instance: service } = await consul.attach('web')
    expect(await service.ls()).toEqual(['web-1'])
    expect(await (await service.attach('')).instance.ls()).toEqual(['web-1']) // no NAME: itself
    const { instances } = await service.get<{
      instances: { id: string; status: string; port: number; tags: string[] }[]
    }>()
    expect(instances).toEqual([
      expect.objectContaining({ id: 'web-1', status: 'passing', port: 8080, tags: ['v1', 'blue'] }),
    ])
    // Well past the TTL, it is still passing: the adapter passes the check for it.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(await web.get()).toMatchObject({ state: 'running', instance: { status: 'passing' } })
    await web.stop()
    expect(await consul.ls()).toEqual(['consul'])
    expect(await web.get()).toMatchObject({ state: 'stopped', instance: null })
    await web.start()
    expect(await consul.ls()).toEqual(['consul', 'web'])
  })

  it('Watch on a service reports instances created, going critical, and deleted', async () => {
    await expect(consul.attach('api')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await consul.spawn(['api', '--id=api-0', '--ttl=10s'])
    const { instance: service } = await consul.attach('api')
    const events = await service.watch()
    const api = await consul.spawn(['api', '--id=api-1', '--ttl=10s'])
    // Registered (its TTL check starts critical, as in Consul), then passed by the adapter.
    expect(await until(events, (e) => e.name === 'api-1')).toMatchObject({ type: 'create' })
    await until(events, (e) => e.name === 'api-1' && e.status === 'passing')
    fake.setCheck('service:api-1', 'critical')
    expect(await until(events, (e) => e.type === 'change')).toMatchObject({
      name: 'api-1',
      status: 'critical',
    })
    await api.stop()
    expect(await until(events, (e) => e.type === 'delete')).toMatchObject({ name: 'api-1' })
    expect(fake.requests.some((r) => /\/v1\/health\/service\/api\?index=\d+&wait=30s/.test(r.url))).toBe(true)
  })

  it('an HTTP check follows the health endpoint', async () => {
    let healthy = true
    const probe: HttpServer = createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503
      res.end()
    })
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(probe.address() as { port: number }).port}/health`
      await consul.spawn(['db', '--id=db-1', `--http=${url}`, '--interval=100ms'])
      const { instance: service } = await consul.attach('db')
      const events = await service.watch()
      const { instances } = await service.get<{ instances: { status: string }[] }>()
      if (instances[0]?.status !== 'passing') await until(events, (e) => e.status === 'passing')
      healthy = false
      expect(await until(events, (e) => e.type === 'change' && e.status === 'critical')).toMatchObject({
        name: 'db-1',
      })
    } finally {
      probe.close()
    }
  })

  it('Get and Set work on the KV store, with CAS', async () => {
    await consul.set(['config/web', '{"replicas":3}'])
    await consul.set(['config/motd', 'héllo wörld'])
    expect(await consul.get(['config/web'])).toEqual({ replicas: 3 })
    expect(await consul.get(['config/motd'])).toBe('héllo wörld')
    await consul.set(['config/new', 'first', '0'])
    await expect(consul.set(['config/new', 'second', '0'])).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(await consul.get(['config/new'])).toBe('first')
    await expect(consul.get(['config/absent'])).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('no key "config/absent"'),
    })
    await expect(consul.set(['k', 'v', 'x'])).rejects.toThrow(/CAS index must be a whole number/)
  })

  it('Watch on a KV prefix reports puts, changes and deletes', async () => {
    const events = await consul.watch(['app/'])
    await consul.set(['app/a', '1'])
    expect(await until(events, () => true)).toMatchObject({ type: 'create', name: 'app/a', value: '1' })
    await consul.set(['app/a', '2'])
    expect(await until(events, () => true)).toMatchObject({ type: 'change', name: 'app/a', value: '2' })
    await consul.set(['other/x', 'ignored'])
    await fetch(`${fake.url}/v1/kv/app/a`, { method: 'DELETE' })
    expect(await until(events, () => true)).toMatchObject({ type: 'delete', name: 'app/a' })
  })

  it('Watch starts over when X-Consul-Index goes backwards, instead of blocking on a stale index', async () => {
    const events = await consul.watch()
    await consul.spawn(['one', '--id=one-1'])
    await consul.spawn(['two', '--id=two-1'])
    await until(events, (e) => e.name === 'two')
    // Once the watch waits past the current index, restore: indexes go backwards.
    await fake.blockedOn('/v1/catalog/services', fake.indexOf('services'))
    fake.reset() // index back to 2: a watcher that kept its index (> 2) would hang for --wait=30s
    await fetch(`${fake.url}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({ Name: 'three', Check: { TTL: '10s' } }),
    })
    const seen: WatchEvent[] = []
    try {
      for (let i = 0; i < 3; i++) seen.push(await until(events, () => true, 5000))
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; saw ${JSON.stringify(seen)}; logs ${ctx.logs.join(' / ')}; requests ${JSON.stringify(fake.requests.slice(-6))}`,
      )
    }
    expect(seen.map((e) => `${e.type} ${e.name}`).sort()).toEqual([
      'create three',
      'delete one',
      'delete two',
    ])
    expect(ctx.logs.join('\n')).toMatch(/went backwards/)
  })

  it('Watch backs off and carries on through agent errors', async () => {
    const events = await consul.watch()
    await consul.spawn(['before', '--id=b-1'])
    await until(events, (e) => e.name === 'before')
    // The blocked request answers the next change; the three after it fail.
    fake.failNext(3, '/v1/catalog/services')
    await consul.spawn(['mid', '--id=m-1'])
    expect(await until(events, (e) => e.name === 'mid')).toMatchObject({ type: 'create' })
    await consul.spawn(['after', '--id=a-1'])
    expect(await until(events, (e) => e.name === 'after', 10_000)).toMatchObject({ type: 'create' })
    const retries = ctx.logs.filter((line) => /failed GET \/v1\/catalog\/services \(500\)/.test(line))
    expect(retries.map((line) => /retrying in (\d+) ms/.exec(line)?.[1])).toEqual(['50', '100', '200'])
  })

  it('bad Spawn arguments get a clear error', async () => {
    await expect(consul.spawn([])).rejects.toThrow(/usage: Spawn NAME/)
    await expect(consul.spawn(['x', '--ttl=soon'])).rejects.toThrow(/--ttl must be a duration/)
    await expect(consul.spawn(['x', '--ttl=1s', '--http=http://h/'])).rejects.toThrow(
      /--ttl or --http, not both/,
    )
    await expect(consul.spawn(['x', '--port=70000'])).rejects.toThrow(/--port must be 0 to 65535/)
  })
})

describe('configuration like a real agent', () => {
  it('sends the ACL token, and says so clearly when it is missing or wrong', async () => {
    const fake = await FakeConsul.start({ token: 's3cret' })
    const contexts: ReturnType<typeof testContext>[] = []
    const spawn = async (args: string[]) => {
      const ctx = testContext()
      contexts.push(ctx)
      return new Client(await backend.spawn(args, ctx))
    }
    const saved = process.env.CONSUL_HTTP_TOKEN
    try {
      delete process.env.CONSUL_HTTP_TOKEN
      await expect((await spawn([fake.url])).ls()).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/Permission denied.*check the ACL token/),
      })
      await expect((await spawn([fake.url, '--token=wrong'])).ls()).rejects.toThrow(/ACL not found/)
      expect(await (await spawn([fake.url, '--token=s3cret'])).ls()).toEqual(['consul'])
      process.env.CONSUL_HTTP_TOKEN = 's3cret'
      const address = fake.url.replace('http://', '')
      process.env.CONSUL_HTTP_ADDR = address
      expect(await (await spawn([])).ls()).toEqual(['consul']) // both from the environment, as the consul CLI reads them
    } finally {
      if (saved === undefined) delete process.env.CONSUL_HTTP_TOKEN
      else process.env.CONSUL_HTTP_TOKEN = saved
      delete process.env.CONSUL_HTTP_ADDR
      for (const ctx of contexts) ctx.abort()
      await fake.stop()
    }
  })

  it('an agent that is not there is UNAVAILABLE; a bad address is rejected at once', async () => {
    const ctx = testContext()
    try {
      const consul = new Client(await backend.spawn(['http://127.0.0.1:9', '--timeout=2000'], ctx))
      await expect(consul.ls()).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('cannot reach the Consul agent at http://127.0.0.1:9'),
      })
      await expect(async () => backend.spawn(['ftp://x'], ctx)).rejects.toThrow(
        /scheme must be http or https/,
      )
      await expect(async () => backend.spawn(['http://x', '--wait=-1'], ctx)).rejects.toThrow(
        /--wait.*positive number/,
      )
    } finally {
      ctx.abort()
    }
  })
})
