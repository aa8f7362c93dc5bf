import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { Receiver, WatchEvent } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectEtcd, discover, type Endpoints } from '../src/index.ts'
import { Etcd, etcdMissing } from './etcd.ts'
import { etcdClient } from './harness.ts'

const missing = etcdMissing()
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))

async function next(events: Receiver<WatchEvent>, ms = 10_000): Promise<WatchEvent> {
  return events.receive({ signal: AbortSignal.timeout(ms) })
}

describe.skipIf(missing)(`etcd adapter against a real etcd${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let etcd: Etcd

  beforeAll(async () => {
    etcd = await Etcd.start()
  })
  afterAll(async () => {
    await etcd?.stop()
  })

  it('is a tree: Set, Ls, Attach, Get (JSON when it parses)', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t1'])
    try {
      await client.set(['web', '{"port":80}'])
      await client.set(['db', 'plain text'])
      const { instance: web } = await client.attach('web')
      await web.set(['a', 'x'])
      expect(await client.ls()).toEqual(['db', 'web'])
      expect(await (await client.attach('')).instance.ls()).toEqual(['db', 'web']) // no NAME: itself
      expect(await web.get()).toEqual({ port: 80 })
      expect(await web.ls()).toEqual(['a'])
      expect(await (await client.attach('db')).instance.get()).toBe('plain text')
      await expect(client.attach('nope')).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('no key "/t1/nope"'),
      })
      await expect(client.attach('a//b')).rejects.toThrow(/bad key name/)
    } finally {
      context.abort()
    }
  })

  it('watches puts and deletes with revisions, and not a sibling prefix', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t2'])
    const raw = connectEtcd([etcd.url])
    try {
      const events = await client.watch()
      await raw.put('/t2/a').value('1')
      await raw.put('/t2x/b').value('sibling')
      await raw.put('/t2/a').value('2')
      await raw.delete().key('/t2/a')
      const got = [await next(events), await next(events), await next(events)]
      expect(got.map((e) => [e.type, e.name, e.value])).toEqual([
        ['put', 'a', '1'],
        ['put', 'a', '2'],
        ['delete', 'a', undefined],
      ])
      const revisions = got.map((e) => e.revision as number)
      expect(revisions[0]! < revisions[1]! && revisions[1]! < revisions[2]!).toBe(true)
      events.cancel()
    } finally {
      raw.close()
      context.abort()
    }
  })

  it('Spawn holds a key under a lease; Stop revokes it, Start puts it back', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t3'])
    const raw = connectEtcd([etcd.url])
    try {
      const worker = await client.spawn(['w1', 'tcp://127.0.0.1:4000', '--ttl=5'])
      expect(await client.ls()).toEqual(['w1'])
      const state = await worker.get<{ state: string; lease: string; ttl: number }>()
      expect(state).toMatchObject({ state: 'running', ttl: 5, value: 'tcp://127.0.0.1:4000' })
      const [kv] = (await raw.getAll().prefix('/t3/w1').exec()).kvs
      expect(kv?.lease).toBe(state.lease) // the key is attached to the instance's lease
      expect(Number(state.lease)).toBeGreaterThan(0)
      await worker.stop()
      expect(await client.ls()).toEqual([])
      expect(await worker.get()).toMatchObject({ state: 'stopped', lease: null })
      await worker.start()
      expect(await raw.get('/t3/w1').string()).toBe('tcp://127.0.0.1:4000')
      await expect(client.spawn(['--ttl=0'])).rejects.toThrow(/usage: Spawn NAME/)
      await expect(client.spawn(['w2', 'v', '--ttl=abc'])).rejects.toThrow(/--ttl.*positive number/)
    } finally {
      context.abort()
      raw.close()
    }
    // Shutting the instance down revokes what it spawned.
    const check = connectEtcd([etcd.url])
    try {
      const deadline = Date.now() + 5000
      while ((await check.get('/t3/w1').string()) !== null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(await check.get('/t3/w1').string()).toBeNull()
    } finally {
      check.close()
    }
  })

  it('a spawned key whose lease etcd dropped is registered again under a new lease', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t7'])
    const raw = connectEtcd([etcd.url])
    try {
      const worker = await client.spawn(['w', 'v', '--ttl=1'])
      const { lease } = await worker.get<{ lease: string }>()
      const events = await client.watch()
      // Someone else revokes the lease (as etcd does when it expires while the owner is cut off).
      await raw.leaseClient.leaseRevoke({ ID: lease })
      expect(await events.receive({ signal: AbortSignal.timeout(5000) })).toMatchObject({
        type: 'delete',
        name: 'w',
      })
      const back = await events.receive({ signal: AbortSignal.timeout(10_000) })
      expect(back).toMatchObject({ type: 'put', name: 'w', value: 'v' })
      expect(back.lease).not.toBe(lease)
      // The put can reach the watch before the adapter has its answer: give Get a moment (bounded).
      await expect
        .poll(() => worker.get(), { timeout: 5000, interval: 20 })
        .toMatchObject({ state: 'running', lease: back.lease })
      expect(context.logs.join('\n')).toMatch(/lease of "\/t7\/w" lost.*registered again/s)
      events.cancel()
    } finally {
      raw.close()
      context.abort()
    }
  })

  it('a lease held by a process killed with SIGKILL expires after its TTL', async () => {
    const ttl = 2
    const found: Endpoints[] = []
    const watcher = connectEtcd([etcd.url])
    const controller = new AbortController()
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)])
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/holder.ts', import.meta.url)),
        etcd.url,
        '/t4',
        'holder',
        'tcp://127.0.0.1:5000',
        String(ttl),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      let killedAt = 0
      let goneAt = 0
      for await (const set of discover(watcher, '/t4', { signal })) {
        found.push(set)
        if (set.endpoints.has('holder') && killedAt === 0) {
          killedAt = Date.now()
          process.kill(child.pid!, 'SIGKILL')
        }
        if (killedAt > 0 && !set.endpoints.has('holder')) {
          goneAt = Date.now()
          controller.abort()
        }
      }
      expect(signal.aborted && !controller.signal.aborted).toBe(false)
      const elapsed = goneAt - killedAt
      console.log(`lease of a SIGKILLed process expired ${elapsed} ms after the kill (TTL ${ttl} s)`)
      expect(elapsed).toBeGreaterThan(500) // it outlived the process: the lease, not a revoke, removed it
      expect(elapsed).toBeLessThan(ttl * 1000 + 3000)
      expect(found.at(-1)?.change).toMatchObject({ type: 'delete', name: 'holder' })
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await once(child, 'exit')
      }
      watcher.close()
    }
  })

  it('Watch survives an etcd restart: every event once, in order, none lost', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t5'])
    let raw = connectEtcd([etcd.url])
    try {
      const events = await client.watch()
      await raw.put('/t5/a').value('1')
      await raw.put('/t5/b').value('2')
      expect((await next(events)).name).toBe('a')
      raw.close()
      await etcd.halt()
      await etcd.resume()
      // Written right after the restart, very likely before the watch has reconnected: the resumed
      // watch must still deliver them, after b and exactly once.
      raw = connectEtcd([etcd.url])
      await raw.put('/t5/c').value('3')
      await raw.delete().key('/t5/a')
      await raw.put('/t5/d').value('4')
      const rest = [await next(events, 20_000), await next(events), await next(events), await next(events)]
      expect(rest.map((e) => `${e.type} ${e.name}`)).toEqual(['put b', 'put c', 'delete a', 'put d'])
      await raw.put('/t5/e').value('5')
      expect((await next(events)).name).toBe('e')
      const more = await events.receive({ signal: AbortSignal.timeout(300) }).catch(() => undefined)
      expect(more).toBeUndefined()
      events.cancel()
      expect(context.logs.join('\n')).toMatch(/resumed after revision/)
    } finally {
      raw.close()
      context.abort()
    }
  })

  it('Watch from a compacted revision ends with a clear error', async () => {
    const { client, context } = await etcdClient([etcd.url, '/t6'])
    const raw = connectEtcd([etcd.url])
    try {
      for (let i = 0; i < 3; i++) await raw.put('/t6/k').value(String(i))
      const revision = Number((await raw.getAll().prefix('/t6/').exec()).header.revision)
      await raw.kv.compact({ revision: String(revision) })
      // etcd may accept the watch and cancel it right after, or refuse it at once: either way it ends
      // with the error, never with events from a history that is gone.
      const failure = await client.watch(['2']).then(
        (events) =>
          events.receive({ signal: AbortSignal.timeout(5000) }).then(
            (event) => new Error(`got an event: ${JSON.stringify(event)}`),
            (error: unknown) => error,
          ),
        (error: unknown) => error,
      )
      expect(failure).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/cancelled the watch of "\/t6" from revision 2.*compacted/),
      })
      await expect(client.watch(['x'])).rejects.toThrow(/optional start revision/)
    } finally {
      raw.close()
      context.abort()
    }
  })

  it('fails clearly for a bad URL and for an etcd that is not there', async () => {
    await expect(etcdClient(['not a url'])).rejects.toThrow(/bad etcd URL "not a url"/)
    await expect(etcdClient([])).rejects.toThrow(/missing the etcd URL/)
    const { client, context } = await etcdClient(['http://127.0.0.1:9', '--timeout=500'])
    try {
      await expect(client.ls({ timeout: 10_000 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('cannot reach etcd at http://127.0.0.1:9'),
      })
      await expect(client.watch([], { timeout: 10_000 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('cannot reach etcd at http://127.0.0.1:9 within 500 ms'),
      })
    } finally {
      context.abort()
    }
  })
})
