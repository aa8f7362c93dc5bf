import http from 'node:http'
import net from 'node:net'
import { InvalidArgumentError, NotFoundError, Server, type Service } from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import { type DockerServer, dockerServer, parseListenUrl } from '../src/index.ts'
import { spawnArgsFor } from '../src/internal/http.ts'

/** A backend with one running child "web", recording the verbs it gets. */
function fakeBackend(seen: string[] = []): Service {
  const web = new Server({
    onGet: () => ({
      name: 'web',
      image: 'nginx',
      state: 'running',
      command: 'nginx -g daemon',
      created: new Date().toISOString(),
    }),
    onStart: () => void seen.push('Start web'),
    onStop: (args) => void seen.push(`Stop web ${args.join(' ')}`.trim()),
  })
  return new Server({
    onLs: () => ['web'],
    onAttach: (args) => {
      seen.push(`Attach ${args.join(' ')}`)
      if (args[0] !== 'web') throw new NotFoundError(`no child named ${args[0]}`)
      return web
    },
    onSpawn: (args) => {
      seen.push(`Spawn ${args.join(' ')}`)
      return web
    },
  })
}

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

function request(server: DockerServer, method: string, path: string, body?: string | Buffer): Promise<Reply> {
  const { port } = new URL(server.url.replace('tcp:', 'http:'))
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: Number(port),
        method,
        path,
        timeout: 5000,
        headers: body ? { 'Content-Type': 'application/json' } : {},
      },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      },
    )
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

/** Sends raw bytes and resolves with everything the server answers before it closes. */
function raw(server: DockerServer, bytes: string): Promise<string> {
  const { port } = new URL(server.url.replace('tcp:', 'http:'))
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1')
    let text = ''
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (chunk) => (text += chunk.toString('utf8')))
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
    socket.end(bytes)
  })
}

describe('dockerserver HTTP', () => {
  let server: DockerServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })
  const start = async (out: Service = fakeBackend(), maxBodyBytes?: number) => {
    server = await dockerServer({ url: 'tcp://127.0.0.1:0', out, maxBodyBytes })
    return server
  }

  it('answers HEAD and GET /_ping with the headers the docker CLI reads', async () => {
    const s = await start()
    for (const method of ['HEAD', 'GET']) {
      const reply = await request(s, method, '/_ping')
      expect(reply.status).toBe(200)
      expect(reply.headers['api-version']).toBe('1.41')
      expect(reply.headers.ostype).toBe('linux')
      expect(reply.headers['docker-experimental']).toBe('false')
      expect(reply.headers['builder-version']).toBe('1')
      expect(reply.headers.swarm).toBe('inactive')
      expect(reply.body).toBe(method === 'GET' ? 'OK' : '')
    }
  })

  it('lists children as containers with ps columns filled in', async () => {
    const s = await start()
    const reply = await request(s, 'GET', '/v1.41/containers/json')
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toBe('application/json')
    const rows = JSON.parse(reply.body)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      Names: ['/web'],
      Image: 'nginx',
      State: 'running',
      Command: 'nginx -g daemon',
    })
    expect(rows[0].Status).toMatch(/^Up /)
    expect(rows[0].Id).toMatch(/^[0-9a-f]{64}$/)
  })

  it('lists from one Ls --long when the next stage takes it, and falls back to Ls + Attach + Get', async () => {
    const seen: string[] = []
    const old = Date.now() - 60_000
    const long = new Server({
      onLs: (args) => {
        seen.push(`Ls ${args.join(' ')}`.trim())
        if (args[0] !== '--long') return ['old', 'new']
        return [
          JSON.stringify({ name: 'old', image: 'bb', state: 'exited', created: new Date(old).toISOString() }),
          JSON.stringify({ name: 'new', image: 'bb', state: 'running', created: new Date().toISOString() }),
        ]
      },
      onAttach: (args) => {
        seen.push(`Attach ${args.join(' ')}`)
        throw new NotFoundError(`no child named ${args[0]}`)
      },
    })
    const s = await start(long)
    const rows = JSON.parse((await request(s, 'GET', '/containers/json?all=1')).body)
    expect(rows.map((r: { Names: string[] }) => r.Names[0])).toEqual(['/new', '/old']) // newest first
    expect(rows[1]).toMatchObject({ Image: 'bb', State: 'exited' })
    // Found by id prefix from the same list, without an Attach per child.
    const byId = await request(s, 'GET', `/containers/${rows[1].Id.slice(0, 12)}/json`)
    expect(byId.status).toBe(404) // this backend's Attach finds nothing: the point is what was asked
    expect(seen.filter((verb) => verb.startsWith('Ls'))).toEqual(['Ls --long', 'Ls --long'])
    expect(seen).toEqual(['Ls --long', `Attach ${rows[1].Id.slice(0, 12)}`, 'Ls --long', 'Attach old'])
    await s.close()

    // A stage that refuses the flag (INVALID_ARGUMENT) gets Ls, then Attach + Get per child.
    const refused: string[] = []
    const backend = fakeBackend(refused)
    const refusing = new Server({
      onLs: (args) => {
        refused.push(`Ls ${args.join(' ')}`.trim())
        if (args.length > 0) throw new InvalidArgumentError('Ls takes no arguments')
        return ['web']
      },
      catchAll: (message) => backend.send(message),
    })
    const t = await start(refusing)
    const [row] = JSON.parse((await request(t, 'GET', '/containers/json')).body)
    expect(row).toMatchObject({ Names: ['/web'], Image: 'nginx', State: 'running' })
    expect(refused).toEqual(['Ls --long', 'Ls', 'Attach web'])
  })

  it('inspects with one Get NAME when the next stage answers it, else Attach + Get', async () => {
    const seen: string[] = []
    const backend = fakeBackend(seen)
    const host = new Server({
      onGet: (args) => {
        seen.push(`Get ${args.join(' ')}`)
        if (args[0] === 'web') return { name: 'web', image: 'nginx', state: 'running' }
        if (args[0] === 'self') return { engine: 'me' } // describes itself: not the child
        throw new NotFoundError(`no child named ${args[0]}`)
      },
      catchAll: (message) => backend.send(message),
    })
    const s = await start(host)
    const web = await request(s, 'GET', '/containers/web/json')
    expect(JSON.parse(web.body)).toMatchObject({ Name: '/web', State: { Status: 'running' } })
    expect(seen).toEqual(['Get web'])
    seen.length = 0
    expect((await request(s, 'GET', '/containers/self/json')).status).toBe(404)
    expect(seen.slice(0, 2)).toEqual(['Get self', 'Attach self'])
  })

  it('finds a child by id prefix, and answers 404 JSON for a missing one', async () => {
    const s = await start()
    const [row] = JSON.parse((await request(s, 'GET', '/containers/json')).body)
    const byId = await request(s, 'GET', `/v1.41/containers/${row.Id.slice(0, 12)}/json`)
    expect(byId.status).toBe(200)
    expect(JSON.parse(byId.body).Name).toBe('/web')
    const missing = await request(s, 'GET', '/v1.41/containers/nosuch/json')
    expect(missing.status).toBe(404)
    expect(missing.headers['content-type']).toBe('application/json')
    expect(JSON.parse(missing.body)).toEqual({ message: 'No such container: nosuch' })
  })

  it('turns start, stop and rm into Start and Stop on the child', async () => {
    const seen: string[] = []
    const s = await start(fakeBackend(seen))
    expect((await request(s, 'POST', '/v1.41/containers/web/start')).status).toBe(204)
    expect((await request(s, 'POST', '/v1.41/containers/web/stop?t=3')).status).toBe(204)
    expect((await request(s, 'DELETE', '/v1.41/containers/web?force=1')).status).toBe(204)
    expect(seen.filter((v) => !v.startsWith('Attach'))).toEqual([
      'Start web',
      'Stop web --time=3',
      'Stop web --rm --force',
    ])
  })

  it('creates with Spawn: plain configs as IMAGE CMD, rich ones as JSON', async () => {
    const seen: string[] = []
    const s = await start(fakeBackend(seen))
    const reply = await request(
      s,
      'POST',
      '/v1.41/containers/create?name=web',
      JSON.stringify({ Image: 'bb', Cmd: ['sh', '-c', 'exit 3'] }),
    )
    expect(reply.status).toBe(201)
    expect(JSON.parse(reply.body)).toMatchObject({ Warnings: [] })
    expect(seen).toContain('Spawn --name web bb sh -c exit 3')
    expect(spawnArgsFor({ Image: 'bb', HostConfig: { AutoRemove: true } }, 'x')).toEqual([
      JSON.stringify({ Image: 'bb', HostConfig: { AutoRemove: true }, name: 'x' }),
    ])
  })

  it('rejects bad input with a 4xx JSON message and keeps serving', async () => {
    const s = await start(fakeBackend(), 1024)
    const notJson = await request(s, 'POST', '/v1.41/containers/create', '{not json')
    expect(notJson.status).toBe(400)
    expect(JSON.parse(notJson.body).message).toMatch(/not valid JSON/)
    const noImage = await request(s, 'POST', '/v1.41/containers/create', '{}')
    expect(noImage.status).toBe(400)
    const big = await request(
      s,
      'POST',
      '/v1.41/containers/create',
      JSON.stringify({ Image: 'x'.repeat(5000) }),
    )
    expect(big.status).toBe(413)
    expect(JSON.parse(big.body).message).toMatch(/larger than the 1024 bytes/)
    const wrongMethod = await request(s, 'PUT', '/v1.41/containers/json')
    expect(wrongMethod.status).toBe(405)
    expect(JSON.parse(wrongMethod.body).message).toMatch(/not allowed: use GET/)
    const tooNew = await request(s, 'GET', '/v1.99/containers/json')
    expect(tooNew.status).toBe(400)
    expect(JSON.parse(tooNew.body).message).toMatch(/too new/)
    const unserved = await request(s, 'POST', '/v1.41/build')
    expect(unserved.status).toBe(501)
    expect(unserved.headers['content-type']).toBe('application/json')
    expect(JSON.parse(unserved.body).message).toMatch(/not implemented/)
    const garbage = await raw(s, 'this is not http\r\n\r\n')
    expect(garbage).toMatch(/^HTTP\/1.1 400 /)
    expect(garbage).toMatch(/"message":"malformed HTTP request/)
    const badFilters = await request(s, 'GET', '/containers/json?filters=%7Bnope')
    expect(badFilters.status).toBe(400)
    // Still serving.
    expect((await request(s, 'GET', '/_ping')).status).toBe(200)
  })

  it('maps a backend NotImplemented onto 501 and other failures onto their status', async () => {
    const s = await start(new Server({}))
    const reply = await request(s, 'GET', '/v1.41/containers/json')
    expect(reply.status).toBe(501)
    expect(JSON.parse(reply.body)).toEqual({ message: 'not implemented: Ls' })
  })

  it('streams Watch events as Docker events', async () => {
    const out = new Server({
      onWatch: async function* () {
        yield { type: 'start', name: 'web', time: '2024-01-01T00:00:00.000Z', image: 'nginx' }
      },
    })
    const s = await start(out)
    const reply = await request(s, 'GET', '/v1.41/events')
    expect(reply.status).toBe(200)
    const event = JSON.parse(reply.body.trim())
    expect(event).toMatchObject({
      Type: 'container',
      Action: 'start',
      Actor: { Attributes: { name: 'web', image: 'nginx' } },
    })
  })

  it('passes events since/until on as Watch --since/--until, or filters a live Watch itself', async () => {
    const asked: string[][] = []
    const event = (name: string, time: string) => ({ type: 'start', name, time })
    const taking = new Server({
      onWatch: async function* (args) {
        asked.push(args)
        yield event('old', '2024-01-01T00:00:00.000Z')
      },
    })
    const s = await start(taking)
    const reply = await request(s, 'GET', '/events?since=1704067200.000000001&until=1704067260')
    expect(reply.status).toBe(200)
    expect(asked).toEqual([['--since=1704067200.000000001', '--until=1704067260.000000000']])
    expect(JSON.parse(reply.body.trim())).toMatchObject({
      Action: 'start',
      Actor: { Attributes: { name: 'old' } },
    })
    const relative = await request(s, 'GET', '/events?since=10m&until=0s')
    expect(relative.status).toBe(200)
    const [since, until] = asked[1]!.map((arg) => Number(arg.split('=')[1]))
    expect(until! - since!).toBeCloseTo(600, 0)
    expect(Math.abs(until! - Date.now() / 1000)).toBeLessThan(5)
    expect((await request(s, 'GET', '/events?since=yesterday')).status).toBe(400)
    expect((await request(s, 'GET', '/events?since=20&until=10')).status).toBe(400)
    await s.close()

    // A stage that refuses the flags: watched live; events before since dropped, ended at until.
    const refusing = new Server({
      onWatch: (args) => {
        if (args.length > 0) throw new InvalidArgumentError(`Watch takes no flags, got ${args[0]}`)
        return (async function* () {
          yield event('before', new Date(Date.now() - 60_000).toISOString())
          yield event('within', new Date().toISOString())
          await new Promise<void>((resolve) => setTimeout(resolve, 10_000)) // then nothing for long
        })()
      },
    })
    const t = await start(refusing)
    const started = Date.now()
    const window = await request(
      t,
      'GET',
      `/events?since=${(started - 5000) / 1000}&until=${(started + 300) / 1000}`,
    )
    expect(window.status).toBe(200)
    expect(
      window.body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).Actor.Attributes.name),
    ).toEqual(['within'])
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('parses listen URLs and refuses bad ones clearly', () => {
    expect(parseListenUrl('tcp://127.0.0.1:4243')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 4243 })
    expect(parseListenUrl('unix:///run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' })
    expect(() => parseListenUrl('ftp://x')).toThrow(/unsupported listen URL scheme/)
    expect(() => parseListenUrl('nonsense')).toThrow(/cannot parse the listen URL/)
  })
})
