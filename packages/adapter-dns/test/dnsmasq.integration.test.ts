import { Client, notImplemented, Server } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, type SrvChange, SrvSource } from '../src/index.ts'
import { Dnsmasq, dnsmasqMissing } from './dnsmasq.ts'

const missing = dnsmasqMissing()
const NAME = '_web._tcp.test'

describe.skipIf(missing)(
  `SRV lookups against a real dnsmasq${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let dns: Dnsmasq

    beforeAll(async () => {
      dns = await Dnsmasq.start(
        [
          { name: NAME, target: 'low.test', port: 8080, priority: 10, weight: 1 },
          { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
          { name: NAME, target: 'light.test', port: 8082, priority: 0, weight: 1 },
        ],
        1,
      )
    })
    afterAll(async () => {
      await dns?.stop()
    })

    const source = () =>
      new SrvSource(NAME, { servers: [{ host: '127.0.0.1', port: dns.port }], minTtl: 0.2, maxTtl: 1 })

    it('resolves the targets in priority/weight order with their TTL', async () => {
      const snapshot = await source().resolve(AbortSignal.timeout(5000))
      expect(snapshot.records.map((r) => `${r.target}:${r.port}`)).toEqual([
        'heavy.test:8081',
        'light.test:8082',
        'low.test:8080',
      ])
      expect(snapshot.ttl).toBe(1)
    })

    it('answers a bare Start/Stop itself and forwards one that names something (docs/VERBS.md)', async () => {
      const controller = new AbortController()
      const reached: string[] = []
      const out = new Server({
        onStart: (args) => void reached.push(['Start', ...args].join(' ')),
        onStop: (args) => void reached.push(['Stop', ...args].join(' ')),
      })
      const service = await backend.spawn([NAME, `127.0.0.1:${dns.port}`], {
        out,
        signal: controller.signal,
        log: () => {},
        spawn: () => Promise.reject(new Error('unused')),
      })
      const client = new Client(service, { timeout: 5000 })
      try {
        await expect(client.start()).rejects.toMatchObject({ name: 'NotImplementedError' })
        await expect(client.stop()).rejects.toMatchObject({ name: 'NotImplementedError' })
        await client.start(['web'])
        await client.stop(['web'])
        expect(reached).toEqual(['Start web', 'Stop web'])
      } finally {
        controller.abort()
      }
    })

    it('as a service: Ls in try order, Get describes, Attach one target', async () => {
      const controller = new AbortController()
      const service = await backend.spawn([NAME, `127.0.0.1:${dns.port}`, '--min-ttl=0.2', '--max-ttl=1'], {
        out: notImplemented,
        signal: controller.signal,
        log: () => {},
        spawn: () => Promise.reject(new Error('unused')),
      })
      const client = new Client(service)
      try {
        expect(await client.ls()).toEqual(['heavy.test:8081', 'light.test:8082', 'low.test:8080'])
        const described = await client.get<{ ttl: number; records: { name: string }[] }>()
        expect(described.ttl).toBe(1)
        expect(described.records.map((r) => r.name)).toEqual([
          'heavy.test:8081',
          'light.test:8082',
          'low.test:8080',
        ])
        const { instance } = await client.attach('low.test:8080')
        expect(await instance.get()).toMatchObject({ target: 'low.test', port: 8080, priority: 10, rank: 2 })
        await expect(client.attach('nope.test:1')).rejects.toMatchObject({ code: 'NOT_FOUND' })
        expect(await (await client.attach('')).instance.ls()).toHaveLength(3) // no NAME: itself
        // Watch through the service: the baseline is taken before the Ack, so a change right after it shows.
        const events = await client.watch()
        await dns.restart([
          { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
          { name: NAME, target: 'light.test', port: 8082, priority: 0, weight: 1 },
        ])
        expect(await events.receive({ signal: AbortSignal.timeout(5000) })).toMatchObject({
          type: 'delete',
          name: 'low.test:8080',
          record: { priority: 10 },
        })
        events.cancel()
        await dns.restart([
          { name: NAME, target: 'low.test', port: 8080, priority: 10, weight: 1 },
          { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
          { name: NAME, target: 'light.test', port: 8082, priority: 0, weight: 1 },
        ])
        await expect(client.set(['x'])).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
      } finally {
        controller.abort()
      }
    })

    it('a server that stops answering while watched is retried with backoff, not reported as targets gone', async () => {
      const logs: string[] = []
      let failures!: () => void
      const failing = new Promise<void>((resolve) => (failures = resolve))
      const watcher = new SrvSource(NAME, {
        servers: [{ host: '127.0.0.1', port: dns.port }],
        minTtl: 0.1,
        maxTtl: 0.4,
        timeout: 100,
        log: (line) => {
          logs.push(line)
          if (logs.length === 2) failures()
        },
      })
      const controller = new AbortController()
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(15_000)])
      const baseline = await watcher.resolve(signal)
      const events: SrvChange[] = []
      const watching = (async () => {
        for await (const change of watcher.watch(signal, undefined, baseline)) {
          events.push(change)
          controller.abort()
        }
      })()
      await dns.halt()
      await failing // two failed lookups logged while dnsmasq is down
      await dns.resume([
        { name: NAME, target: 'low.test', port: 8080, priority: 10, weight: 1 },
        { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
        { name: NAME, target: 'light.test', port: 8082, priority: 0, weight: 1 },
        { name: NAME, target: 'extra.test', port: 7000, priority: 20, weight: 1 },
      ])
      await watching
      expect(signal.aborted && !controller.signal.aborted).toBe(false)
      // The outage produced no events; the first change after it is the new target.
      expect(events.map((e) => `${e.type} ${e.name}`)).toEqual(['create extra.test:7000'])
      expect(logs[0]).toMatch(/lookup of _web\._tcp\.test failed, retrying in 0\.1s/)
      expect(logs[1]).toMatch(/retrying in 0\.2s/)
      await dns.restart([
        { name: NAME, target: 'low.test', port: 8080, priority: 10, weight: 1 },
        { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
        { name: NAME, target: 'light.test', port: 8082, priority: 0, weight: 1 },
      ])
    })

    it('gives an empty answer for a name with no records', async () => {
      const empty = new SrvSource('_none._tcp.test', { servers: [{ host: '127.0.0.1', port: dns.port }] })
      expect((await empty.resolve(AbortSignal.timeout(5000))).records).toEqual([])
    })

    it('reports a clear error when the server does not answer', async () => {
      const dead = new SrvSource(NAME, { servers: [{ host: '127.0.0.1', port: 9 }], timeout: 200 })
      await expect(dead.resolve(AbortSignal.timeout(5000))).rejects.toThrow(
        /no DNS server answered.*127\.0\.0\.1:9/,
      )
    })

    it('watches: a restart with other records shows up as created, changed and deleted targets', async () => {
      const signal = AbortSignal.timeout(15_000)
      const controller = new AbortController()
      const stop = AbortSignal.any([signal, controller.signal])
      let baseline!: () => void
      const ready = new Promise<void>((resolve) => (baseline = resolve))
      const events: SrvChange[] = []
      const watching = (async () => {
        for await (const change of source().watch(stop, () => baseline())) {
          events.push(change)
          if (events.length === 3) controller.abort()
        }
      })()
      await ready
      await dns.restart([
        { name: NAME, target: 'heavy.test', port: 8081, priority: 0, weight: 9 },
        { name: NAME, target: 'light.test', port: 8082, priority: 5, weight: 1 },
        { name: NAME, target: 'new.test', port: 9090, priority: 1, weight: 1 },
      ])
      await watching
      expect(signal.aborted).toBe(false)
      expect(events.map((e) => [e.type, e.name])).toEqual([
        ['create', 'new.test:9090'],
        ['change', 'light.test:8082'],
        ['delete', 'low.test:8080'],
      ])
      expect(events[1]).toMatchObject({ record: { priority: 5 }, previous: { priority: 0 } })
    })
  },
)
