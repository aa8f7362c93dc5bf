import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ConflictError, InvalidArgumentError, NotFoundError, UnavailableError } from '@libswarm/core'
import { describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import {
  Demuxer,
  mapEngineError,
  parseEngineUrl,
  parseSpawnArgs,
  toWatchEvent,
} from '../src/internal/engine.ts'
import { Engine, parseTimeNanos, parseWatchArgs } from '../src/internal/service.ts'

describe('dockerclient internals', () => {
  it('parses engine URLs, DOCKER_HOST and the default socket', () => {
    expect(parseEngineUrl('unix:///run/d.sock')).toEqual({ socketPath: '/run/d.sock' })
    expect(parseEngineUrl('tcp://10.0.0.1:2375')).toEqual({ host: '10.0.0.1', port: 2375, protocol: 'http' })
    expect(parseEngineUrl(undefined, { DOCKER_HOST: 'tcp://h:1' })).toMatchObject({ host: 'h', port: 1 })
    expect(parseEngineUrl(undefined, {})).toEqual({ socketPath: '/var/run/docker.sock' })
    expect(() => parseEngineUrl('ftp://x')).toThrow(/unsupported engine URL scheme/)
    expect(() => parseEngineUrl('::')).toThrow(InvalidArgumentError)
  })

  it('refuses bad backend args with the usage line', () => {
    const context = {
      out: undefined as never,
      signal: AbortSignal.timeout(1000),
      spawn: undefined as never,
      log() {},
    }
    expect(() => backend.spawn(['a', 'b'], context)).toThrow(/usage: dockerclient/)
  })

  it('parses Spawn args in both forms', () => {
    expect(parseSpawnArgs(['--name=web', '--start', 'bb', 'sh', '-c', 'true'])).toEqual({
      config: { Image: 'bb', Cmd: ['sh', '-c', 'true'], name: 'web' },
      start: true,
    })
    expect(parseSpawnArgs(['{"Image":"bb","name":"x","start":true}'])).toEqual({
      config: { Image: 'bb', name: 'x' },
      start: true,
    })
    expect(() => parseSpawnArgs([])).toThrow(/needs an image/)
    expect(() => parseSpawnArgs(['{nope'])).toThrow(/not valid JSON/)
    expect(() => parseSpawnArgs(['{"Cmd":["x"]}'])).toThrow(/names no "Image"/)
  })

  it('maps engine failures onto core errors, keeping the engine text', () => {
    const notFound = mapEngineError({ statusCode: 404, json: { message: 'No such container: x' } })
    expect(notFound).toBeInstanceOf(NotFoundError)
    expect(notFound.message).toBe('No such container: x')
    expect(mapEngineError({ statusCode: 409, json: { message: 'in use' } })).toBeInstanceOf(ConflictError)
    const down = mapEngineError(Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' }), '/x.sock')
    expect(down).toBeInstanceOf(UnavailableError)
    expect(down.message).toMatch(/not reachable.*is dockerd running/)
  })

  it('turns Docker events into WatchEvents', () => {
    const event = toWatchEvent({
      Type: 'container',
      Action: 'die',
      Actor: { ID: 'abc', Attributes: { name: 'web', image: 'bb', exitCode: '3' } },
      time: 1,
      timeNano: 1_000_000_000,
    })
    expect(event).toMatchObject({
      type: 'stop',
      name: 'web',
      id: 'abc',
      action: 'die',
      exitCode: 3,
      image: 'bb',
    })
    expect(toWatchEvent({ Type: 'network', Action: 'connect' })).toBeUndefined()
  })

  it('demultiplexes stdio frames split anywhere', () => {
    const frame = Buffer.from([1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 2, 0, 0, 0, 0, 0, 0, 1, 0x21])
    const demuxer = new Demuxer()
    const out = [
      ...demuxer.push(frame.subarray(0, 5)),
      ...demuxer.push(frame.subarray(5, 13)),
      ...demuxer.push(frame.subarray(13)),
    ]
    expect(out.map((f) => [f.stream, f.data.toString()])).toEqual([
      [1, 'abc'],
      [2, '!'],
    ])
  })

  it('reads Watch --since/--until as Unix seconds or RFC 3339, to the nanosecond', () => {
    expect(parseTimeNanos('1700000000')).toBe(1_700_000_000_000_000_000n)
    expect(parseTimeNanos('1700000000.000000001')).toBe(1_700_000_000_000_000_001n)
    expect(parseTimeNanos('1700000000.5')).toBe(1_700_000_000_500_000_000n)
    expect(parseTimeNanos('2023-11-14T22:13:20.123456789Z')).toBe(1_700_000_000_123_456_789n)
    expect(parseTimeNanos('10m')).toBeUndefined()
    expect(parseWatchArgs(['--since=1700000000', '--until=1700000001.25'])).toEqual({
      since: 1_700_000_000_000_000_000n,
      until: 1_700_000_001_250_000_000n,
    })
    expect(() => parseWatchArgs(['web'])).toThrow(InvalidArgumentError)
    expect(() => parseWatchArgs(['--since=yesterday'])).toThrow(/cannot read the time/)
  })
})

describe('the engine event stream', () => {
  it('delivers events the engine sends out of time order (two containers removed in parallel)', async () => {
    // dockerd stamps an event, then publishes it: two goroutines can publish in the other order.
    const now = BigInt(Date.now()) * 1_000_000n
    const event = (name: string, at: bigint) =>
      `${JSON.stringify({ Type: 'container', Action: 'destroy', Actor: { ID: name.repeat(12), Attributes: { name } } }).slice(0, -1)},"time":${at / 1_000_000_000n},"timeNano":${at}}\n`
    const server = createServer((req, res) => {
      if (!req.url?.startsWith('/events')) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.write(event('b', now + 2_000_000_000n))
      res.write(event('a', now + 1_000_000_000n))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const controller = new AbortController()
    try {
      const engine = new Engine({ url: `tcp://127.0.0.1:${port}` })
      const names: string[] = []
      const timeout = setTimeout(() => controller.abort(), 5000)
      for await (const watch of engine.events(controller.signal)) {
        names.push(watch.name)
        if (names.length === 2) break
      }
      clearTimeout(timeout)
      expect(names).toEqual(['b', 'a'])
    } finally {
      controller.abort()
      server.closeAllConnections()
      server.close()
    }
  })
})
