/**
 * A fake Consul agent (and its one-node catalog) for tests, since no Consul server can run here. It
 * follows the documented HTTP API for the endpoints the adapter uses:
 *
 * - GET  /v1/catalog/services                 {name: tags[]}                       blocking
 * - GET  /v1/catalog/service/:name            [{Node, Address, ServiceID, ...}]    blocking
 * - GET  /v1/health/service/:name[?passing]   [{Node, Service, Checks}]            blocking
 * - PUT  /v1/agent/service/register           body: {Name, ID, Tags, Address, Port, Meta, Check | Checks}
 * - PUT  /v1/agent/service/deregister/:id     404 "Unknown service ID" when absent
 * - PUT  /v1/agent/check/pass/:id[?note]      TTL checks; service checks are "service:<id>" (":N" with several)
 * - GET  /v1/kv/:key[?recurse][?keys]         [{Key, Value (base64), Flags, CreateIndex, ModifyIndex, LockIndex}]
 * - PUT  /v1/kv/:key[?cas=N][?flags=N]        raw body; answers true / false
 * - DELETE /v1/kv/:key[?recurse][?cas=N]      answers true / false
 *
 * Blocking queries: `?index=N&wait=D` hangs until the result's index passes N or D elapses (at most
 * 10 minutes, default 5), adding up to wait/16 of jitter; every answer carries `X-Consul-Index`.
 * ACLs: with `token` set, a request needs it in `X-Consul-Token`, `Authorization: Bearer`, or `?token=`;
 * else 403 "ACL not found" (a wrong token) or "Permission denied" (none).
 *
 * Test controls: `reset()` forgets everything and restarts the index low (as after a snapshot
 * restore, so indexes go backwards), `failNext(n)` answers the next n requests with 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

interface Check {
  CheckID: string
  Name: string
  Status: 'passing' | 'warning' | 'critical'
  Notes: string
  Output: string
  ServiceID: string
  ServiceName: string
  ServiceTags: string[]
  Type: 'ttl' | 'http'
  /** TTL or interval, in ms. */
  period: number
  http?: string
  timer?: ReturnType<typeof setTimeout> | ReturnType<typeof setInterval>
  CreateIndex: number
  ModifyIndex: number
}

interface ServiceEntry {
  ID: string
  Service: string
  Tags: string[]
  Address: string
  Port: number
  Meta: Record<string, string>
  CreateIndex: number
  ModifyIndex: number
}

interface KvEntry {
  Key: string
  Value: string | null
  Flags: number
  CreateIndex: number
  ModifyIndex: number
  LockIndex: number
}

const NODE = {
  ID: '0e8a5e9b-6f7b-4b5e-9d51-5e2f0b6a1c01',
  Node: 'fake-node',
  Address: '127.0.0.1',
  Datacenter: 'dc1',
}

/** Parses a Go duration as Consul accepts it ("10s", "100ms", "5m", "1m30s"). */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  }
  let total = 0
  let rest = text
  if (rest === '') return undefined
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest)
    if (!match) return undefined
    total += Number(match[1]) * units[match[2]!]!
    rest = rest.slice(match[0].length)
  }
  return total
}

export class FakeConsul {
  readonly server: Server
  port = 0
  /** Requests seen: method, path and query, for assertions. */
  readonly requests: { method: string; url: string; index?: string }[] = []
  private index = 1
  private services = new Map<string, ServiceEntry>()
  private checks = new Map<string, Check>()
  private kv = new Map<string, KvEntry>()
  /** Index of the last change per table ("services", "health:<name>", "kv"). */
  private tables = new Map<string, number>()
  private waiters = new Set<(abandon?: boolean) => void>()
  /** Blocked queries: path and the index they wait past. */
  private blocked = new Set<{ path: string; index: number }>()
  private blockedListeners = new Set<() => void>()
  private failures = 0
  private failPath = ''

  constructor(readonly options: { token?: string } = {}) {
    this.addConsulService()
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error) => {
        response.statusCode = 500
        response.end(String(error))
      })
    })
  }

  static async start(options: { token?: string } = {}): Promise<FakeConsul> {
    const fake = new FakeConsul(options)
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve))
    fake.port = (fake.server.address() as { port: number }).port
    return fake
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async stop(): Promise<void> {
    for (const check of this.checks.values()) clearTimeout(check.timer)
    for (const wake of this.waiters) wake()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /**
   * Forgets every service, check and key, and restarts the index at 1: indexes go backwards. Like a
   * snapshot restore on a real server (the state store is abandoned), every blocked query returns at
   * once, with the new, lower index.
   */
  reset(): void {
    for (const wake of [...this.waiters]) wake(true)
    for (const check of this.checks.values()) clearTimeout(check.timer)
    this.services.clear()
    this.checks.clear()
    this.kv.clear()
    this.tables.clear()
    this.index = 1
    this.addConsulService()
    this.bump(['services', 'kv'])
  }

  /** The `consul` service that a real cluster's servers register for themselves. */
  private addConsulService(): void {
    this.services.set('consul', {
      ID: 'consul',
      Service: 'consul',
      Tags: [],
      Address: '',
      Port: 8300,
      Meta: {},
      CreateIndex: this.index,
      ModifyIndex: this.index,
    })
  }

  /** Resolves once a blocking query on `path` waits for an index past `index` (at once if one does). */
  blockedOn(path: string, index: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        for (const b of this.blocked) {
          if (b.path === path && b.index >= index) {
            this.blockedListeners.delete(check)
            resolve()
            return
          }
        }
      }
      this.blockedListeners.add(check)
      check()
    })
  }

  /** The index a table is at. */
  indexOf(table: string): number {
    return this.tableIndex(table)
  }

  /** Answers the next `n` requests (whose path starts with `path`, if given) with 500. */
  failNext(n: number, path = ''): void {
    this.failures = n
    this.failPath = path
  }

  /** Marks a check's status directly (as a failing health probe would). */
  setCheck(id: string, status: Check['Status']): void {
    const check = this.checks.get(id)
    if (!check) throw new Error(`no check ${id}`)
    this.updateCheck(check, status, '')
  }

  private bump(tables: string[]): number {
    const index = ++this.index
    for (const table of tables) this.tables.set(table, index)
    for (const wake of [...this.waiters]) wake()
    return index
  }

  private tableIndex(table: string): number {
    return this.tables.get(table) ?? 1
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake')
    this.requests.push({ method: request.method ?? 'GET', url: url.pathname + url.search })
    if (this.failures > 0 && url.pathname.startsWith(this.failPath)) {
      this.failures--
      return this.reply(response, 500, 'rpc error: No cluster leader', 'text/plain')
    }
    if (this.options.token !== undefined) {
      const auth = request.headers.authorization
      const token =
        (request.headers['x-consul-token'] as string | undefined) ??
        (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined) ??
        url.searchParams.get('token') ??
        undefined
      if (token !== this.options.token) {
        return this.reply(response, 403, token ? 'ACL not found' : 'Permission denied', 'text/plain')
      }
    }
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => resolve(Buffer.concat(chunks)))
    })
    const method = request.method ?? 'GET'
    const path = url.pathname
    const q = url.searchParams
    let match: RegExpExecArray | null
    if (method === 'GET' && path === '/v1/catalog/services') {
      return this.blocking(request, response, q, 'services', () => {
        const out: Record<string, string[]> = {}
        for (const s of this.services.values())
          out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])]
        return out
      })
    }
    if (method === 'GET' && (match = /^\/v1\/catalog\/service\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(match[1]!)
      return this.blocking(request, response, q, `health:${name}`, () =>
        this.instances(name).map((s) => ({
          ...NODE,
          ServiceID: s.ID,
          ServiceName: s.Service,
          ServiceTags: s.Tags,
          ServiceAddress: s.Address,
          ServicePort: s.Port,
          ServiceMeta: s.Meta,
          CreateIndex: s.CreateIndex,
          ModifyIndex: s.ModifyIndex,
        })),
      )
    }
    if (method === 'GET' && (match = /^\/v1\/health\/service\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(match[1]!)
      return this.blocking(request, response, q, `health:${name}`, () =>
        this.instances(name)
          .map((s) => ({
            Node: { ...NODE, TaggedAddresses: {}, Meta: {} },
            Service: { ...s },
            Checks: [...this.checks.values()]
              .filter((c) => c.ServiceID === s.ID)
              .map(({ timer: _t, period: _p, http: _h, Type, ...c }) => ({ ...c, Node: NODE.Node, Type })),
          }))
          .filter((entry) => !q.has('passing') || entry.Checks.every((c) => c.Status === 'passing')),
      )
    }
    if (method === 'PUT' && path === '/v1/agent/service/register') {
      return this.register(response, body)
    }
    if (method === 'PUT' && (match = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(path))) {
      const id = decodeURIComponent(match[1]!)
      const service = this.services.get(id)
      if (!service)
        return this.reply(
          response,
          404,
          `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
          'text/plain',
        )
      this.services.delete(id)
      for (const [checkId, check] of this.checks) {
        if (check.ServiceID === id) {
          clearTimeout(check.timer)
          this.checks.delete(checkId)
        }
      }
      this.bump(['services', `health:${service.Service}`])
      return this.reply(response, 200, '', 'text/plain')
    }
    if (method === 'PUT' && (match = /^\/v1\/agent\/check\/pass\/(.+)$/.exec(path))) {
      const id = decodeURIComponent(match[1]!)
      const check = this.checks.get(id)
      if (!check)
        return this.reply(
          response,
          404,
          `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
          'text/plain',
        )
      if (check.Type !== 'ttl')
        return this.reply(response, 500, `CheckID "${id}" does not have associated TTL`, 'text/plain')
      this.updateCheck(check, 'passing', q.get('note') ?? '')
      this.armTtl(check)
      return this.reply(response, 200, '', 'text/plain')
    }
    if ((match = /^\/v1\/kv\/(.*)$/.exec(path))) {
      return this.kvRequest(request, response, method, decodeURIComponent(match[1]!), q, body)
    }
    return this.reply(response, 404, `no such endpoint: ${method} ${path}`, 'text/plain')
  }

  private instances(name: string): ServiceEntry[] {
    return [...this.services.values()]
      .filter((s) => s.Service === name)
      .sort((a, b) => a.ID.localeCompare(b.ID))
  }

  private register(response: ServerResponse, body: Buffer) {
    let spec: any
    try {
      spec = JSON.parse(body.toString() || 'null')
    } catch (error) {
      return this.reply(response, 400, `Request decode failed: ${(error as Error).message}`, 'text/plain')
    }
    if (!spec || typeof spec.Name !== 'string' || spec.Name === '') {
      return this.reply(response, 400, 'Invalid Service Meta: missing service name', 'text/plain')
    }
    const id: string = spec.ID || spec.Name
    const old = this.services.get(id)
    const index = this.index + 1
    const entry: ServiceEntry = {
      ID: id,
      Service: spec.Name,
      Tags: Array.isArray(spec.Tags) ? spec.Tags : [],
      Address: spec.Address ?? '',
      Port: spec.Port ?? 0,
      Meta: spec.Meta ?? {},
      CreateIndex: old?.CreateIndex ?? index,
      ModifyIndex: index,
    }
    const defs: any[] = spec.Checks ?? (spec.Check ? [spec.Check] : [])
    const checks: Check[] = []
    for (const [i, def] of defs.entries()) {
      const checkId: string = def.CheckID ?? (defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`)
      const ttl = def.TTL === undefined ? undefined : parseDuration(def.TTL)
      const interval = def.Interval === undefined ? undefined : parseDuration(def.Interval)
      if (def.TTL !== undefined && ttl === undefined) {
        return this.reply(response, 400, `Invalid check: TTL "${def.TTL}" is not a duration`, 'text/plain')
      }
      if (ttl === undefined && (def.HTTP === undefined || interval === undefined)) {
        return this.reply(
          response,
          400,
          'Invalid check: TTL must be > 0 for TTL checks, or HTTP with an Interval',
          'text/plain',
        )
      }
      checks.push({
        CheckID: checkId,
        Name: def.Name ?? `Service '${spec.Name}' check`,
        Status: def.Status ?? 'critical',
        Notes: def.Notes ?? '',
        Output: '',
        ServiceID: id,
        ServiceName: spec.Name,
        ServiceTags: entry.Tags,
        Type: ttl !== undefined ? 'ttl' : 'http',
        period: (ttl ?? interval)!,
        http: def.HTTP,
        CreateIndex: index,
        ModifyIndex: index,
      })
    }
    for (const [checkId, check] of this.checks) {
      if (check.ServiceID === id) {
        clearTimeout(check.timer)
        this.checks.delete(checkId)
      }
    }
    this.services.set(id, entry)
    for (const check of checks) {
      this.checks.set(check.CheckID, check)
      if (check.Type === 'ttl') this.armTtl(check)
      else this.armHttp(check)
    }
    this.bump(['services', `health:${entry.Service}`])
    this.reply(response, 200, '', 'text/plain')
  }

  private updateCheck(check: Check, status: Check['Status'], output: string): void {
    if (check.Status === status && check.Output === output) return
    check.Status = status
    check.Output = output
    check.ModifyIndex = this.bump([`health:${check.ServiceName}`])
  }

  private armTtl(check: Check): void {
    clearTimeout(check.timer)
    check.timer = setTimeout(() => {
      if (this.checks.get(check.CheckID) !== check) return
      this.updateCheck(check, 'critical', `TTL expired`)
    }, check.period)
  }

  private armHttp(check: Check): void {
    const probe = async () => {
      if (this.checks.get(check.CheckID) !== check) return
      let status: Check['Status'] = 'critical'
      let output = ''
      try {
        const response = await fetch(check.http!, {
          signal: AbortSignal.timeout(Math.min(check.period, 10_000)),
        })
        output = `HTTP GET ${check.http}: ${response.status} ${response.statusText}`
        status = response.ok ? 'passing' : response.status === 429 ? 'warning' : 'critical'
      } catch (error) {
        output = `Get "${check.http}": ${(error as Error).message}`
      }
      if (this.checks.get(check.CheckID) !== check) return
      this.updateCheck(check, status, output)
      check.timer = setTimeout(probe, check.period)
    }
    check.timer = setTimeout(probe, 0)
  }

  private async kvRequest(
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    key: string,
    q: URLSearchParams,
    body: Buffer,
  ): Promise<void> {
    if (method === 'GET') {
      const entries = () =>
        q.has('recurse') || q.has('keys')
          ? [...this.kv.values()]
              .filter((e) => e.Key.startsWith(key))
              .sort((a, b) => a.Key.localeCompare(b.Key))
          : [this.kv.get(key)].filter((e): e is KvEntry => e !== undefined)
      return this.blocking(request, response, q, 'kv', () => {
        const found = entries()
        if (found.length === 0) return undefined // 404, still with X-Consul-Index
        if (q.has('keys')) return found.map((e) => e.Key)
        if (q.has('raw')) return Buffer.from(found[0]!.Value ?? '', 'base64')
        return found.map((e) => ({ ...e }))
      })
    }
    if (method === 'PUT') {
      const old = this.kv.get(key)
      if (q.has('cas')) {
        const cas = Number(q.get('cas'))
        if (!Number.isInteger(cas) || cas < 0)
          return this.reply(response, 400, 'Invalid cas index', 'text/plain')
        if (cas === 0 ? old !== undefined : old?.ModifyIndex !== cas) return this.reply(response, 200, false)
      }
      const index = this.bump(['kv'])
      this.kv.set(key, {
        Key: key,
        Value: body.length === 0 ? null : body.toString('base64'),
        Flags: Number(q.get('flags') ?? old?.Flags ?? 0),
        CreateIndex: old?.CreateIndex ?? index,
        ModifyIndex: index,
        LockIndex: 0,
      })
      return this.reply(response, 200, true)
    }
    if (method === 'DELETE') {
      if (q.has('cas')) {
        const old = this.kv.get(key)
        if (old?.ModifyIndex !== Number(q.get('cas'))) return this.reply(response, 200, false)
      }
      const doomed = q.has('recurse') ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : [key]
      for (const k of doomed) this.kv.delete(k)
      this.bump(['kv'])
      return this.reply(response, 200, true)
    }
    return this.reply(response, 405, `method ${method} not allowed`, 'text/plain')
  }

  /** Answers `compute()`, first waiting while the table's index is still at or below `?index=`. */
  private async blocking(
    request: IncomingMessage,
    response: ServerResponse,
    q: URLSearchParams,
    table: string,
    compute: () => unknown,
  ): Promise<void> {
    const wanted = Number(q.get('index') ?? 0)
    if (wanted > 0 && this.tableIndex(table) <= wanted) {
      const waitText = q.get('wait')
      let wait = waitText === null ? 300_000 : parseDuration(waitText)
      if (wait === undefined)
        return this.reply(response, 400, `Invalid wait time "${waitText}"`, 'text/plain')
      wait = Math.min(wait, 600_000)
      wait += Math.random() * (wait / 16)
      const entry = { path: new URL(request.url ?? '/', 'http://fake').pathname, index: wanted }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.waiters.delete(check)
          this.blocked.delete(entry)
          request.off('close', done)
          resolve()
        }
        const check = (abandon?: boolean) => {
          if (abandon || this.tableIndex(table) > wanted) done()
        }
        const timer = setTimeout(done, wait)
        this.waiters.add(check)
        this.blocked.add(entry)
        for (const listener of [...this.blockedListeners]) listener()
        request.on('close', done)
      })
    }
    if (response.destroyed) return
    response.setHeader('X-Consul-Index', String(this.tableIndex(table)))
    response.setHeader('X-Consul-KnownLeader', 'true')
    response.setHeader('X-Consul-LastContact', '0')
    const result = compute()
    if (result === undefined) return this.reply(response, 404, '', 'text/plain')
    if (Buffer.isBuffer(result)) return this.reply(response, 200, result, 'application/octet-stream')
    this.reply(response, 200, result)
  }

  private reply(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
    response.statusCode = status
    response.setHeader('Content-Type', type)
    response.end(type === 'application/json' ? JSON.stringify(body) : (body as string | Buffer))
  }
}
