import { randomBytes } from 'node:crypto'
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import type { ConsulApi, ConsulResponse } from './api.ts'
import { parseArgs } from './args.ts'
import { type BlockingOptions, blockingQuery } from './blocking.ts'

/** One instance of a catalog service, with its health. */
export interface Instance {
  id: string
  service: string
  node: string
  address: string
  port: number
  tags: string[]
  meta: Record<string, string>
  /** The worst status of its checks (`passing` when it has none). */
  status: 'passing' | 'warning' | 'critical'
  checks: { id: string; name: string; status: string; output: string }[]
}

interface HealthEntry {
  Node: { Node: string; Address: string }
  Service: {
    ID: string
    Service: string
    Address: string
    Port: number
    Tags: string[] | null
    Meta: Record<string, string> | null
  }
  Checks: { CheckID: string; Name: string; Status: string; Output: string; ServiceID: string }[]
}

interface KvEntry {
  Key: string
  Value: string | null
  ModifyIndex: number
  CreateIndex: number
  Flags: number
}

const RANK: Record<string, number> = { passing: 0, warning: 1, critical: 2 }

function toInstance(entry: HealthEntry): Instance {
  const checks = entry.Checks.filter((c) => c.ServiceID === entry.Service.ID || c.ServiceID === '').map(
    (c) => ({
      id: c.CheckID,
      name: c.Name,
      status: c.Status,
      output: c.Output,
    }),
  )
  const worst = checks.reduce((w, c) => Math.max(w, RANK[c.status] ?? 2), 0)
  return {
    id: entry.Service.ID,
    service: entry.Service.Service,
    node: entry.Node.Node,
    address: entry.Service.Address || entry.Node.Address,
    port: entry.Service.Port,
    tags: entry.Service.Tags ?? [],
    meta: entry.Service.Meta ?? {},
    status: (['passing', 'warning', 'critical'] as const)[worst]!,
    checks,
  }
}

/** Parses a stored value: JSON if it parses, else the string. */
function decodeValue(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

/** Yields `create` / `delete` / `change` events between successive maps of id to state. */
async function* diffStream<T>(
  states: AsyncIterable<Map<string, T>>,
  describe: (name: string, item: T) => Record<string, unknown>,
): AsyncGenerator<WatchEvent> {
  let before: Map<string, string> | undefined
  for await (const state of states) {
    const after = new Map([...state].map(([name, item]) => [name, JSON.stringify(item)]))
    if (before) {
      const time = new Date().toISOString()
      for (const [name, item] of state) {
        const was = before.get(name)
        if (was === undefined) yield { type: 'create', name, time, ...describe(name, item) }
        else if (was !== after.get(name)) yield { type: 'change', name, time, ...describe(name, item) }
      }
      for (const name of before.keys()) if (!state.has(name)) yield { type: 'delete', name, time }
    }
    before = after
  }
}

/**
 * Reads `path` once (before the Watch is acknowledged, so every later change is reported, and an
 * agent that cannot be reached is an Error), then follows it with blocking queries from that index
 * and yields the changes between successive states.
 */
async function watchMap<B, T>(
  consul: ConsulContext,
  path: string,
  query: Record<string, string> | undefined,
  signal: AbortSignal,
  toMap: (response: ConsulResponse<B>) => Map<string, T>,
  describe: (name: string, item: T) => Record<string, unknown>,
): Promise<AsyncIterable<WatchEvent>> {
  const first = await consul.api.request<B>('GET', path, { query, signal })
  const baseline = toMap(first)
  const states = (async function* () {
    yield baseline
    for await (const response of blockingQuery<B>(consul.api, path, {
      ...consul.blocking,
      signal,
      query,
      index: first.index,
    })) {
      yield toMap(response)
    }
  })()
  return diffStream(states, describe)
}

/** What the services of one `consul` instance share. */
export interface ConsulContext {
  api: ConsulApi
  /** Blocking-query tuning (wait, backoff) and the log. */
  blocking: Omit<BlockingOptions, 'signal' | 'query'>
  log: (line: string) => void
  /** Registrations made by Spawn, deregistered on shutdown. */
  registrations: Set<Registration>
}

async function health(consul: ConsulContext, name: string, signal?: AbortSignal): Promise<Instance[]> {
  const response = await consul.api.request<HealthEntry[]>(
    'GET',
    `/v1/health/service/${encodeURIComponent(name)}`,
    { signal },
  )
  return response.status === 404 ? [] : response.body.map(toInstance)
}

/** The service for one catalog service: its instances with health. */
export function catalogServiceNode(consul: ConsulContext, name: string): Server {
  const server: Server = new Server({
    async onLs(_args, context) {
      return (await health(consul, name, context.signal)).map((i) => i.id)
    },
    async onGet(_args, context) {
      return { service: name, instances: await health(consul, name, context.signal) }
    },
    async onAttach(args, context) {
      const id = args[0] ?? ''
      if (id === '') return server // no NAME: the service itself
      const found = (await health(consul, name, context.signal)).find((i) => i.id === id)
      if (!found)
        throw new NotFoundError(`[adapter-consul] service "${name}" has no instance "${id}"; Ls lists them`)
      return new Server({
        async onGet(_a, c) {
          const now = (await health(consul, name, c.signal)).find((i) => i.id === id)
          if (!now) throw new NotFoundError(`[adapter-consul] instance "${id}" of "${name}" is gone`)
          return now
        },
        onLs: () => [],
      })
    },
    onWatch(_args, context) {
      return watchMap<HealthEntry[], Instance>(
        consul,
        `/v1/health/service/${encodeURIComponent(name)}`,
        undefined,
        context.signal,
        (response) => {
          const list = response.status === 404 ? [] : response.body.map(toInstance)
          return new Map(list.map((i) => [i.id, i]))
        },
        (_id, instance) => ({ instance, status: instance.status }),
      )
    },
  })
  return server
}

const SPAWN_USAGE =
  'Spawn NAME [--id=ID] [--address=HOST] [--port=N] [--tags=a,b] [--ttl=DURATION | --http=URL --interval=DURATION] [--deregister-after=DURATION]'

/** A service instance this adapter registered with the agent (and keeps healthy while it runs). */
export class Registration {
  state: 'running' | 'stopped' = 'stopped'
  #heartbeat: ReturnType<typeof setInterval> | undefined

  constructor(
    readonly consul: ConsulContext,
    readonly definition: Record<string, unknown> & { ID: string; Name: string },
    /** TTL in ms when the check is a TTL check: the adapter passes it every third of that. */
    readonly ttl: number | undefined,
  ) {}

  get checkId(): string {
    return `service:${this.definition.ID}`
  }

  async start(): Promise<void> {
    if (this.state === 'running') return
    await this.consul.api.request('PUT', '/v1/agent/service/register', {
      body: JSON.stringify(this.definition),
    })
    this.state = 'running'
    this.consul.registrations.add(this)
    if (this.ttl !== undefined) {
      await this.#pass()
      this.#heartbeat = setInterval(() => void this.#pass(), Math.max(this.ttl / 3, 100))
    }
  }

  async #pass(): Promise<void> {
    try {
      await this.consul.api.must(
        'PUT',
        `/v1/agent/check/pass/${encodeURIComponent(this.checkId)}`,
        `no check ${this.checkId}`,
        {
          query: { note: 'alive (libswarm adapter-consul)' },
        },
      )
    } catch (error) {
      this.consul.log(`TTL check ${this.checkId} could not be passed: ${(error as Error).message}`)
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#heartbeat)
    this.consul.registrations.delete(this)
    if (this.state === 'stopped') return
    this.state = 'stopped'
    const response = await this.consul.api.request(
      'PUT',
      `/v1/agent/service/deregister/${encodeURIComponent(this.definition.ID)}`,
    )
    if (response.status === 404) return // already gone: what Stop wants
  }
}

function parseSpawn(args: string[]): {
  definition: Record<string, unknown> & { ID: string; Name: string }
  ttl?: number
} {
  const parsed = parseArgs(
    args,
    {
      id: true,
      address: true,
      port: true,
      tags: true,
      ttl: true,
      http: true,
      interval: true,
      'deregister-after': true,
    },
    SPAWN_USAGE,
    'adapter-consul',
  )
  const [name, ...extra] = parsed.positional
  if (!name || extra.length > 0) throw new InvalidArgumentError(`[adapter-consul] usage: ${SPAWN_USAGE}`)
  const o = parsed.options
  const duration = (option: string): string | undefined => {
    const value = o.get(option)
    if (value !== undefined && parseDurationMs(value) === undefined) {
      throw new InvalidArgumentError(
        `[adapter-consul] --${option} must be a duration such as 10s or 500ms, got "${value}"`,
      )
    }
    return value
  }
  const port = o.get('port') === undefined ? undefined : Number(o.get('port'))
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new InvalidArgumentError(`[adapter-consul] --port must be 0 to 65535, got "${o.get('port')}"`)
  }
  const http = o.get('http')
  const interval = duration('interval')
  let ttl = duration('ttl')
  if (http !== undefined && ttl !== undefined)
    throw new InvalidArgumentError('[adapter-consul] give --ttl or --http, not both')
  if (http === undefined && ttl === undefined) ttl = '15s'
  const check: Record<string, unknown> =
    http !== undefined ? { HTTP: http, Interval: interval ?? '10s' } : { TTL: ttl, Status: 'critical' }
  const deregister = duration('deregister-after')
  if (deregister !== undefined) check.DeregisterCriticalServiceAfter = deregister
  const definition = {
    ID: o.get('id') ?? `${name}-${randomBytes(4).toString('hex')}`,
    Name: name,
    Tags: o.get('tags')?.split(',').filter(Boolean) ?? [],
    Address: o.get('address') ?? '',
    Port: port ?? 0,
    Check: check,
  }
  return { definition, ttl: ttl === undefined ? undefined : parseDurationMs(ttl) }
}

/** Parses a Go duration ("10s", "500ms", "1m30s") into ms. */
export function parseDurationMs(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let total = 0
  let rest = text
  if (rest === '') return undefined
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest)
    if (!match) return undefined
    total += Number(match[1]) * units[match[2]!]!
    rest = rest.slice(match[0].length)
  }
  return total > 0 ? total : undefined
}

function registrationService(consul: ConsulContext, registration: Registration): Server {
  const node = catalogServiceNode(consul, registration.definition.Name)
  return new Server(
    {
      onStart: () => registration.start(),
      onStop: () => registration.stop(),
      async onGet(_args, context) {
        const instance = (await health(consul, registration.definition.Name, context.signal)).find(
          (i) => i.id === registration.definition.ID,
        )
        return {
          id: registration.definition.ID,
          service: registration.definition.Name,
          state: registration.state,
          instance: instance ?? null,
        }
      },
      onLs: () => [],
    },
    { fallback: node },
  )
}

/** The root service of a `consul` instance. */
export function consulService(consul: ConsulContext, options: { fallback?: Service } = {}): Server {
  const server: Server = new Server(
    {
      async onLs(_args, context) {
        const response = await consul.api.request<Record<string, string[]>>('GET', '/v1/catalog/services', {
          signal: context.signal,
        })
        return Object.keys(response.body ?? {})
      },
      async onAttach(args, context) {
        const name = args[0]
        if (!name) return server // no NAME: the service itself
        const response = await consul.api.request<unknown[]>(
          'GET',
          `/v1/catalog/service/${encodeURIComponent(name)}`,
          { signal: context.signal },
        )
        if (response.status === 404 || !Array.isArray(response.body) || response.body.length === 0) {
          throw new NotFoundError(
            `[adapter-consul] no service "${name}" in the catalog; Ls lists the services`,
          )
        }
        return catalogServiceNode(consul, name)
      },
      async onSpawn(args) {
        const { definition, ttl } = parseSpawn(args)
        const registration = new Registration(consul, definition, ttl)
        await registration.start()
        return registrationService(consul, registration)
      },
      async onGet(args, context) {
        const key = args[0]
        if (key === undefined) {
          const response = await consul.api.request<Record<string, string[]>>('GET', '/v1/catalog/services', {
            signal: context.signal,
          })
          return {
            address: consul.api.base,
            datacenter: consul.api.datacenter ?? null,
            services: response.body,
          }
        }
        const response = await consul.api.must<KvEntry[]>(
          'GET',
          `/v1/kv/${encodeKey(key)}`,
          `no key "${key}" in the KV store`,
          {
            signal: context.signal,
          },
        )
        const entry = response.body[0]!
        return decodeValue(entry.Value === null ? '' : Buffer.from(entry.Value, 'base64').toString('utf8'))
      },
      async onSet(args) {
        const [key, value, cas, ...extra] = args
        if (key === undefined || value === undefined || extra.length > 0) {
          throw new InvalidArgumentError('[adapter-consul] Set takes KEY VALUE [CAS-INDEX] (KV store)')
        }
        if (cas !== undefined && !/^\d+$/.test(cas)) {
          throw new InvalidArgumentError(
            `[adapter-consul] the CAS index must be a whole number, got "${cas}"`,
          )
        }
        const response = await consul.api.request<boolean>('PUT', `/v1/kv/${encodeKey(key)}`, {
          body: value,
          query: { cas },
        })
        if (response.body !== true) {
          throw new ConflictError(
            `[adapter-consul] Set "${key}" with CAS index ${cas} was refused: the key changed since (or exists, for 0); read it again`,
          )
        }
      },
      onWatch(args, context) {
        const prefix = args[0]
        if (prefix === undefined) {
          return watchMap<Record<string, string[]>, string[]>(
            consul,
            '/v1/catalog/services',
            undefined,
            context.signal,
            (response) => new Map(Object.entries(response.body ?? {})),
            (_name, tags) => ({ tags }),
          )
        }
        return watchMap<KvEntry[], KvEntry>(
          consul,
          `/v1/kv/${encodeKey(prefix)}`,
          { recurse: '' },
          context.signal,
          (response) => new Map((response.status === 404 ? [] : response.body).map((e) => [e.Key, e])),
          (_key, entry) => ({
            value: entry.Value === null ? '' : Buffer.from(entry.Value, 'base64').toString('utf8'),
            index: entry.ModifyIndex,
          }),
        )
      },
    },
    { fallback: options.fallback },
  )
  return server
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/')
}
