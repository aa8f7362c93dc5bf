/**
 * The HTTP side of `dockerserver`: a Docker Engine API server (HTTP/1.1 on TCP or a unix socket) that
 * answers each call by sending verbs to the next stage of the pipeline.
 */
import { existsSync, unlinkSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import {
  Client,
  ConflictError,
  InvalidArgumentError,
  isLibswarmError,
  LibswarmError,
  type Message,
  NotFoundError,
  NotImplementedError,
  type Receiver,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import {
  API_VERSION,
  idFromName,
  infoBody,
  isDockerInspect,
  MIN_API_VERSION,
  toDockerEvent,
  toInspect,
  toRow,
  toSummary,
  versionBody,
} from './format.ts'

type Json = Record<string, any>

/** Options of {@link listenDockerApi}. */
export interface DockerApiOptions {
  /** Where to listen: `tcp://HOST:PORT` or `unix:///path`. Default: `tcp://127.0.0.1:4243`. */
  url?: string
  /** The service the API calls become verbs to (a pipeline stage's `context.out`). */
  out: Service
  /** Closes the server when it fires. */
  signal?: AbortSignal
  /** Where to log one line per failed call. Default: ignored. */
  log?: (line: string) => void
  /** Largest request body accepted, in bytes (a larger one gets 413). Default: 1 MiB. */
  maxBodyBytes?: number
  /** How long a call to the next stage may take to answer, in ms. Default: 30 000. */
  timeout?: number
}

/** A listening Docker API server. */
export interface DockerApiServer {
  /** The URL it listens on (with the real port when port 0 was asked for). */
  readonly url: string
  /** Stops listening and ends open connections. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Default of {@link DockerApiOptions.url}. */
export const DEFAULT_URL = 'tcp://127.0.0.1:4243'
/** Default of {@link DockerApiOptions.maxBodyBytes}. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

const P = '[adapter-dockerserver]'
/** How long `docker logs` (without -f) waits for another line before it ends. */
const LOGS_IDLE_MS = 300
/** ... and how long it reads such a never-ending output at most. */
const LOGS_MAX_MS = 2000

/** After `until`, how long `/events` waits for a next stage that took `--until` to end the stream. */
const UNTIL_QUIET_MS = 2000

/** An HTTP error answer: a status and a message for `{"message": ...}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** Where a dockerserver URL points. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }

/** Parses `tcp://host:port` or `unix:///path` (throws InvalidArgumentError saying what is expected). */
export function parseListenUrl(text: string): ListenAddress {
  const expected = 'expected tcp://HOST:PORT or unix:///path/to/docker.sock'
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidArgumentError(`${P} cannot parse the listen URL ${JSON.stringify(text)}: ${expected}`)
  }
  if (url.protocol === 'unix:') {
    const path = decodeURIComponent(url.pathname)
    if (!path || path === '/')
      throw new InvalidArgumentError(`${P} ${JSON.stringify(text)} names no socket path: ${expected}`)
    return { kind: 'unix', path }
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!host) throw new InvalidArgumentError(`${P} ${JSON.stringify(text)} names no host: ${expected}`)
    const port = url.port === '' ? 4243 : Number(url.port)
    return { kind: 'tcp', host, port }
  }
  throw new InvalidArgumentError(
    `${P} unsupported listen URL scheme ${JSON.stringify(url.protocol)}: ${expected}`,
  )
}

function statusOf(error: unknown): number {
  if (error instanceof HttpError) return error.status
  if (!isLibswarmError(error)) return 500
  switch (error.code) {
    case 'NOT_FOUND':
      return 404
    case 'CONFLICT':
      return 409
    case 'INVALID_ARGUMENT':
      return 400
    case 'UNAUTHORIZED':
      return 401
    case 'NOT_IMPLEMENTED':
      return 501
    case 'UNAVAILABLE':
      return 503
    case 'TIMEOUT':
      return 504
    default:
      return 500
  }
}

const COMMON_HEADERS = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: 'libswarm-dockerserver',
}

/** Starts serving the Docker Engine API in front of `options.out`. */
export async function listenDockerApi(options: DockerApiOptions): Promise<DockerApiServer> {
  const address = parseListenUrl(options.url ?? DEFAULT_URL)
  const api = new DockerApi(options)
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 30_000 }, (req, res) => {
    api.handle(req, res)
  })
  server.keepAliveTimeout = 30_000
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
    api.upgrade(req, socket, head),
  )
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
    const body = JSON.stringify({
      message: `malformed HTTP request (${error.code ?? error.message}): send HTTP/1.1`,
    })
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  })
  const sockets = new Set<net.Socket>()
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  if (address.kind === 'unix') await removeStaleSocket(address.path)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error & { code?: string }) => {
      const where = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`
      if (error.code === 'EADDRINUSE')
        reject(new ConflictError(`${P} ${where} is already in use: pick another address`, { cause: error }))
      else if (error.code === 'EACCES')
        reject(new InvalidArgumentError(`${P} no permission to listen on ${where}`, { cause: error }))
      else
        reject(new InvalidArgumentError(`${P} cannot listen on ${where}: ${error.message}`, { cause: error }))
    })
    if (address.kind === 'unix') server.listen(address.path, () => resolve())
    else server.listen(address.port, address.host, () => resolve())
  })
  const bound = server.address()
  const url =
    address.kind === 'unix'
      ? `unix://${address.path}`
      : `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${typeof bound === 'object' && bound ? bound.port : address.port}`
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      api.close()
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    }).then(() => {
      if (address.kind === 'unix') {
        try {
          unlinkSync(address.path)
        } catch {}
      }
    })
    return closing
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return { url, close, [Symbol.asyncDispose]: close }
}

async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
  if (alive) throw new ConflictError(`${P} ${path} is already in use by a running server: pick another path`)
  try {
    unlinkSync(path)
  } catch {}
}

interface Route {
  method: string
  pattern: RegExp
  run(call: Call, params: string[]): Promise<void>
}

/** One HTTP request being answered. */
interface Call {
  req: http.IncomingMessage
  res: http.ServerResponse
  query: URLSearchParams
  signal: AbortSignal
}

/** Unserved Docker API areas: these answer 501 (anything else unknown answers 404). */
const DOCKER_AREAS =
  /^\/(containers|images|networks|volumes|exec|build|swarm|services|nodes|tasks|secrets|configs|plugins|system|session|distribution|auth|commit|grpc)(\/|$)/

class DockerApi {
  readonly #root: Client
  readonly #log: (line: string) => void
  readonly #maxBody: number
  readonly #controller = new AbortController()
  readonly #routes: Route[]

  constructor(options: DockerApiOptions) {
    this.#root = new Client(options.out, { timeout: options.timeout ?? 30_000 })
    this.#log = options.log ?? (() => {})
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    const r = (method: string, pattern: RegExp, run: Route['run']): Route => ({ method, pattern, run })
    const ID = '([^/]+)'
    this.#routes = [
      r('GET', /^\/_ping$/, (c) => this.#ping(c)),
      r('HEAD', /^\/_ping$/, (c) => this.#ping(c)),
      r('GET', /^\/version$/, (c) => this.#version(c)),
      r('GET', /^\/info$/, (c) => this.#info(c)),
      r('GET', /^\/containers\/json$/, (c) => this.#ps(c)),
      r('POST', /^\/containers\/create$/, (c) => this.#create(c)),
      r('GET', new RegExp(`^/containers/${ID}/json$`), (c, [id]) => this.#inspect(c, id!)),
      r('POST', new RegExp(`^/containers/${ID}/start$`), (c, [id]) => this.#simple(c, id!, 'start')),
      r('POST', new RegExp(`^/containers/${ID}/stop$`), (c, [id]) => this.#simple(c, id!, 'stop')),
      r('POST', new RegExp(`^/containers/${ID}/restart$`), (c, [id]) => this.#simple(c, id!, 'restart')),
      r('POST', new RegExp(`^/containers/${ID}/kill$`), (c, [id]) => this.#simple(c, id!, 'kill')),
      r('POST', new RegExp(`^/containers/${ID}/rename$`), (c, [id]) => this.#simple(c, id!, 'rename')),
      r('POST', new RegExp(`^/containers/${ID}/wait$`), (c, [id]) => this.#wait(c, id!)),
      r('POST', new RegExp(`^/containers/${ID}/attach$`), (c, [id]) => this.#attachPlain(c, id!)),
      r('GET', new RegExp(`^/containers/${ID}/logs$`), (c, [id]) => this.#logs(c, id!)),
      r('DELETE', new RegExp(`^/containers/${ID}$`), (c, [id]) => this.#simple(c, id!, 'remove')),
      r('GET', /^\/events$/, (c) => this.#events(c)),
      r('GET', /^\/images\/json$/, async (c) => json(c.res, 200, [])),
      r('GET', /^\/networks$/, async (c) => json(c.res, 200, [])),
      r('GET', /^\/volumes$/, async (c) => json(c.res, 200, { Volumes: [], Warnings: null })),
      // `docker inspect NAME` falls back through these; nothing but containers is served, so: 404.
      r('GET', /^\/images\/(.+)\/json$/, async (_c, [n]) => notFound(`No such image: ${n}`)),
      r('GET', new RegExp(`^/networks/${ID}$`), async (_c, [n]) => notFound(`network ${n} not found`)),
      r('GET', new RegExp(`^/volumes/${ID}$`), async (_c, [n]) => notFound(`get ${n}: no such volume`)),
      r('GET', /^\/plugins\/(.+)\/json$/, async (_c, [n]) => notFound(`plugin "${n}" not found`)),
    ]
  }

  close(): void {
    this.#controller.abort()
  }

  /** Answers a plain HTTP request. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    for (const [name, value] of Object.entries(COMMON_HEADERS)) res.setHeader(name, value)
    const controller = new AbortController()
    const abort = () => controller.abort()
    res.on('close', abort)
    this.#controller.signal.addEventListener('abort', abort, { once: true })
    res.on('close', () => this.#controller.signal.removeEventListener('abort', abort))
    this.#dispatch(req, res, controller.signal).catch((error: unknown) => this.#fail(req, res, error))
  }

  #fail(req: http.IncomingMessage, res: http.ServerResponse, error: unknown): void {
    const status = statusOf(error)
    const message = error instanceof Error ? error.message : String(error)
    if (status >= 500) this.#log(`${req.method} ${req.url}: ${status} ${message}`)
    if (res.headersSent) {
      // A stream already under way: all we can do is end it.
      res.destroy()
      return
    }
    const headers = error instanceof HttpError ? error.headers : {}
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
    if (status === 413 || status === 400) res.setHeader('Connection', 'close')
    json(res, status, { message })
    if (status === 413) req.destroy()
  }

  #route(method: string, path: string): { route: Route; params: string[] } {
    let allowed: string[] = []
    for (const route of this.#routes) {
      const match = route.pattern.exec(path)
      if (!match) continue
      if (route.method === method) return { route, params: match.slice(1).map((p) => decodeURIComponent(p)) }
      allowed.push(route.method)
    }
    allowed = [...new Set(allowed)]
    if (allowed.length > 0) {
      throw new HttpError(405, `${P} ${method} ${path} is not allowed: use ${allowed.join(' or ')}`, {
        Allow: allowed.join(', '),
      })
    }
    if (DOCKER_AREAS.test(path)) {
      throw new NotImplementedError(
        `${P} ${method} ${path} is not implemented by libswarm's dockerserver (it serves ping, version, info, events and containers: list, create, inspect, start, stop, restart, kill, rename, wait, attach, logs, remove)`,
      )
    }
    throw new HttpError(404, `page not found: ${method} ${path}`)
  }

  async #dispatch(req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal): Promise<void> {
    const { path, query } = parseTarget(req.url ?? '/')
    const { route, params } = this.#route(req.method ?? 'GET', path)
    await route.run({ req, res, query, signal }, params)
  }

  /** Answers an HTTP Upgrade (only `POST /containers/{id}/attach` upgrades). */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const fail = (error: unknown) => {
      const status = statusOf(error)
      const body = JSON.stringify({ message: error instanceof Error ? error.message : String(error) })
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nApi-Version: ${API_VERSION}\r\nConnection: close\r\n\r\n${body}`,
        )
      }
    }
    socket.on('error', () => socket.destroy())
    const controller = new AbortController()
    socket.on('close', () => controller.abort())
    this.#controller.signal.addEventListener('abort', () => socket.destroy(), { once: true })
    const run = async () => {
      const { path, query } = parseTarget(req.url ?? '/')
      const match = /^\/containers\/([^/]+)\/attach$/.exec(path)
      if (!match || req.method !== 'POST') {
        throw new HttpError(
          400,
          `${P} only POST /containers/{id}/attach can be upgraded, not ${req.method} ${path}`,
        )
      }
      await this.#attachStream(decodeURIComponent(match[1]!), query, controller.signal, socket, head, true)
    }
    run().catch(fail)
  }

  // ---- endpoints ----

  async #ping({ req, res }: Call): Promise<void> {
    res.setHeader('Builder-Version', '1')
    res.setHeader('Swarm', 'inactive')
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate')
    res.setHeader('Pragma', 'no-cache')
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': req.method === 'HEAD' ? '0' : '2',
    })
    res.end(req.method === 'HEAD' ? undefined : 'OK')
  }

  async #backendInfo(signal: AbortSignal): Promise<unknown> {
    try {
      return await this.#root.get([], { signal })
    } catch (error) {
      if (isLibswarmError(error, 'NOT_IMPLEMENTED')) return undefined
      throw error
    }
  }

  async #version(c: Call): Promise<void> {
    json(c.res, 200, versionBody(await this.#backendInfo(c.signal)))
  }

  async #info(c: Call): Promise<void> {
    const backend = await this.#backendInfo(c.signal)
    const described = backend as Json | undefined
    if (described && typeof described === 'object' && described.info)
      return json(c.res, 200, infoBody(backend, []))
    json(c.res, 200, infoBody(backend, await this.#list(c.signal)))
  }

  /**
   * Every child as a `/containers/json` row, newest first: from one `Ls --long` when the next stage
   * takes it (docs/VERBS.md, "Listing with descriptions"), else from `Ls` and an Attach + Get per child.
   */
  async #list(signal: AbortSignal): Promise<Json[]> {
    const entries = await this.#listLong(signal)
    if (entries) {
      const rows = entries.map((entry) => toRow(entry))
      // Newest first; rows created in the same second (a Docker summary's precision) in the next
      // stage's own order (dockerd's), else in name order.
      return rows
        .map((row, i) => ({ row, i }))
        .sort(
          (a, b) =>
            b.row.key - a.row.key ||
            (a.row.position === b.row.position ? 0 : a.row.position < b.row.position ? -1 : 1) ||
            a.i - b.i,
        )
        .map(({ row }) => row.summary)
    }
    const inspects = await this.#inspectAll(signal)
    // Newest first, as dockerd lists them (Created is RFC 3339 with nanoseconds: compare the text).
    const created = (i: Json) => (typeof i.Created === 'string' ? i.Created : '')
    return inspects
      .sort((a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : 0))
      .map((inspect) => toSummary(inspect))
  }

  /** `Ls --long` on the next stage; undefined when it does not take the flag. */
  async #listLong(signal: AbortSignal): Promise<Json[] | undefined> {
    let reply: Message
    try {
      reply = await this.#root.call('Ls', ['--long'], { signal })
    } catch (error) {
      if (isLibswarmError(error, 'INVALID_ARGUMENT') || isLibswarmError(error, 'NOT_IMPLEMENTED'))
        return undefined
      throw error
    }
    if (reply.verb !== 'Set') return undefined
    const entries: Json[] = []
    for (const arg of reply.args) {
      // A stage that ignores the flag answers plain names.
      if (!arg.startsWith('{')) return undefined
      let entry: unknown
      try {
        entry = JSON.parse(arg)
      } catch {
        return undefined
      }
      if (typeof entry !== 'object' || entry === null || typeof (entry as Json).name !== 'string')
        return undefined
      entries.push(entry as Json)
    }
    return entries
  }

  async #inspectAll(signal: AbortSignal): Promise<Json[]> {
    const names = await this.#root.ls({ signal })
    const results = await Promise.all(
      names.map(async (name) => {
        try {
          const child = await this.#attach(name, signal)
          const inspect = toInspect(name, await child.get([], { signal }))
          // List each child under the name Ls gave it (an aggregate's MEMBER:NAME says where it lives).
          return inspect.Name === `/${name}` ? inspect : { ...inspect, Name: `/${name}` }
        } catch (error) {
          // Gone between Ls and Attach: skip it.
          if (isLibswarmError(error, 'NOT_FOUND')) return undefined
          throw error
        }
      }),
    )
    return results.filter((r): r is Json => r !== undefined)
  }

  async #ps(c: Call): Promise<void> {
    let rows = await this.#list(c.signal)
    const all = isTrue(c.query.get('all'))
    const filters = parseFilters(c.query.get('filters'))
    if (!all && !filters.status) rows = rows.filter((row) => row.State === 'running')
    for (const [key, values] of Object.entries(filters)) {
      const accepted = (row: Json): boolean => {
        switch (key) {
          case 'status':
            return values.includes(row.State)
          case 'name':
            return values.some((v) =>
              row.Names.some((n: string) => n.slice(1).includes(v.replace(/^\//, ''))),
            )
          case 'id':
            return values.some((v) => String(row.Id).startsWith(v))
          case 'label':
            return values.every((v) => {
              const [k, val] = v.split('=')
              return row.Labels?.[k!] !== undefined && (val === undefined || row.Labels[k!] === val)
            })
          default:
            throw new HttpError(
              400,
              `${P} unsupported filter ${JSON.stringify(key)}: use status, name, id or label`,
            )
        }
      }
      rows = rows.filter(accepted)
    }
    const limit = Number(c.query.get('limit') ?? '-1')
    if (limit > 0) rows = rows.slice(0, limit)
    json(c.res, 200, rows)
  }

  async #create(c: Call): Promise<void> {
    const body = await readJson(c.req, this.#maxBody)
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, `${P} the create body must be a JSON object such as {"Image": "busybox"}`)
    }
    const config = body as Json
    if (typeof config.Image !== 'string' || config.Image === '') {
      throw new HttpError(400, 'config cannot be empty in order to create a container: "Image" is required')
    }
    const name = c.query.get('name')
    if (name !== null && name !== '' && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
      throw new HttpError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
    }
    const spawnArgs = spawnArgsFor(config, name ? name.replace(/^\//, '') : undefined)
    const child = await this.#root.spawn(spawnArgs, { signal: c.signal })
    let id: string | undefined
    try {
      const described = await child.get([], { signal: c.signal })
      id = isDockerInspect(described) ? described.Id : toInspect(name ?? '', described).Id
    } catch {}
    json(c.res, 201, { Id: id ?? idFromName(name ?? ''), Warnings: [] })
  }

  /** Attach NAME (and flags) to the next stage; with an id prefix no child is named after, resolve it. */
  async #open(
    ref: string,
    flags: string[],
    signal: AbortSignal,
  ): Promise<{ child: Client; output: Receiver<Message>; name: string }> {
    const attach = async (name: string) => {
      const { reply, rest } = await this.#root.open('Attach', [name, ...flags], { signal })
      if (reply.verb !== 'Ack' || !reply.ret) {
        rest.cancel()
        throw new LibswarmError(
          'REMOTE',
          `${P} Attach ${name}: the next stage answered ${reply.verb} without an instance`,
        )
      }
      return { child: new Client(reply.ret, { timeout: this.#root.timeout }), output: rest, name }
    }
    try {
      return await attach(ref)
    } catch (error) {
      if (!isLibswarmError(error, 'NOT_FOUND')) throw error
      // The docker CLI names containers by id or id prefix: find the child whose id starts so.
      const found = await this.#findById(ref, signal)
      if (found === undefined) throw new NotFoundError(`No such container: ${ref}`)
      return attach(found)
    }
  }

  async #attach(ref: string, signal: AbortSignal): Promise<Client> {
    const { child, output } = await this.#open(ref, [], signal)
    output.cancel()
    return child
  }

  async #findById(ref: string, signal: AbortSignal): Promise<string | undefined> {
    const wanted = ref.replace(/^\//, '')
    if (!/^[0-9a-f]{1,64}$/.test(wanted)) return undefined
    const matches: string[] = []
    const entries = await this.#listLong(signal)
    if (entries) {
      for (const entry of entries) {
        const row = toRow(entry).summary
        if (String(row.Id).startsWith(wanted) || idFromName(entry.name).startsWith(wanted))
          matches.push(entry.name)
      }
    } else {
      const names = await this.#root.ls({ signal })
      for (const name of names) {
        if (idFromName(name).startsWith(wanted)) {
          matches.push(name)
          continue
        }
        try {
          const { child, output } = await this.#root.open('Attach', [name], { signal }).then((o) => ({
            child: new Client(o.reply.ret!, { timeout: this.#root.timeout }),
            output: o.rest,
          }))
          output.cancel()
          const described = await child.get([], { signal })
          if (toInspect(name, described).Id.startsWith(wanted)) matches.push(name)
        } catch {}
      }
    }
    if (matches.length > 1) throw new HttpError(400, `multiple IDs found with provided prefix: ${ref}`)
    return matches[0]
  }

  async #inspectOne(ref: string, signal: AbortSignal): Promise<Json> {
    // Get NAME on the next stage (rule 8 of docs/VERBS.md): one round trip. A stage that does not
    // take it refuses it or describes itself instead; then Attach + Get.
    try {
      const described = await this.#root.get([ref], { signal })
      if (describes(described, ref)) return toInspect(ref, described)
    } catch (error) {
      if (
        !isLibswarmError(error, 'NOT_FOUND') &&
        !isLibswarmError(error, 'INVALID_ARGUMENT') &&
        !isLibswarmError(error, 'NOT_IMPLEMENTED')
      )
        throw error
    }
    const { child, name } = await this.#open(ref, [], signal).then((o) => {
      o.output.cancel()
      return o
    })
    return toInspect(name, await child.get([], { signal }))
  }

  async #inspect(c: Call, ref: string): Promise<void> {
    try {
      json(c.res, 200, await this.#inspectOne(ref, c.signal))
    } catch (error) {
      if (isLibswarmError(error, 'NOT_FOUND')) throw new NotFoundError(`No such container: ${ref}`)
      throw error
    }
  }

  async #simple(
    c: Call,
    ref: string,
    action: 'start' | 'stop' | 'restart' | 'kill' | 'rename' | 'remove',
  ): Promise<void> {
    const child = await this.#attach(ref, c.signal).catch((error: unknown) => {
      if (isLibswarmError(error, 'NOT_FOUND')) throw new NotFoundError(`No such container: ${ref}`)
      throw error
    })
    const t = c.query.get('t') ?? c.query.get('timeout')
    if (t !== null && !/^-?\d+$/.test(t))
      throw new HttpError(400, `${P} t must be a whole number of seconds, got ${JSON.stringify(t)}`)
    const stopArgs = t !== null && Number(t) >= 0 ? [`--time=${t}`] : []
    const options = { signal: c.signal, timeout: 120_000 }
    switch (action) {
      case 'start':
        await child.start([], options)
        break
      case 'stop':
        await child.stop(stopArgs, options)
        break
      case 'restart':
        await child.stop(stopArgs, options)
        await child.start([], options)
        break
      case 'kill':
        await child.stop(['--time=0'], options)
        break
      case 'rename': {
        const name = c.query.get('name')
        if (!name) throw new HttpError(400, `${P} rename needs ?name=NEWNAME`)
        await child.set([`name=${name}`], options)
        break
      }
      case 'remove':
        await child.stop(isTrue(c.query.get('force')) ? ['--rm', '--force'] : ['--rm'], options)
        break
    }
    c.res.writeHead(204)
    c.res.end()
  }

  /** `/wait`: headers at once (the CLI starts the container only after them), the body on exit. */
  async #wait(c: Call, ref: string): Promise<void> {
    const condition = c.query.get('condition') ?? 'not-running'
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new HttpError(
        400,
        `${P} unknown wait condition ${JSON.stringify(condition)}: use not-running, next-exit or removed`,
      )
    }
    const { child, name } = await this.#open(ref, [], c.signal)
      .then((o) => {
        o.output.cancel()
        return o
      })
      .catch((error: unknown) => {
        if (isLibswarmError(error, 'NOT_FOUND')) throw new NotFoundError(`No such container: ${ref}`)
        throw error
      })
    const inspect = toInspect(name, await child.get([], { signal: c.signal }))
    const id: string = inspect.Id
    if (condition === 'not-running' && !inspect.State.Running) {
      json(c.res, 200, { Error: null, StatusCode: inspect.State.ExitCode ?? 0 })
      return
    }
    const events = await this.#watchChild(child, name, id, c.signal)
    c.res.writeHead(200, { 'Content-Type': 'application/json' })
    c.res.flushHeaders()
    let exitCode: number | undefined
    try {
      for await (const event of events) {
        const action = String(event.action ?? event.type)
        if (event.type === 'stop' || action === 'die') {
          if (typeof event.exitCode === 'number') exitCode = event.exitCode
          if (condition !== 'removed') break
        }
        if (event.type === 'delete' || action === 'destroy') break
      }
    } finally {
      events.cancel()
    }
    if (exitCode === undefined) {
      try {
        exitCode = toInspect(name, await child.get([], { signal: c.signal })).State.ExitCode
      } catch {}
    }
    c.res.end(`${JSON.stringify({ Error: null, StatusCode: exitCode ?? 0 })}\n`)
  }

  /** A child's change events: its own Watch, else the parent's filtered to it. */
  async #watchChild(
    child: Client,
    name: string,
    id: string,
    signal: AbortSignal,
  ): Promise<Receiver<WatchEvent>> {
    try {
      return await child.watch([], { signal })
    } catch (error) {
      if (!isLibswarmError(error, 'NOT_IMPLEMENTED')) throw error
    }
    const all = await this.#root.watch([], { signal })
    return filterReceiver(all, (e) => e.name === name || e.id === id)
  }

  async #attachPlain(_c: Call, _ref: string): Promise<void> {
    throw new HttpError(
      400,
      `${P} attach needs an HTTP upgrade: send "Connection: Upgrade" and "Upgrade: tcp" (the docker CLI does)`,
    )
  }

  async #attachStream(
    ref: string,
    query: URLSearchParams,
    signal: AbortSignal,
    socket: Duplex,
    head: Buffer,
    upgraded: boolean,
  ): Promise<void> {
    const { child, name } = await this.#open(ref, [], signal)
      .then((o) => {
        o.output.cancel()
        return o
      })
      .catch((error: unknown) => {
        if (isLibswarmError(error, 'NOT_FOUND')) throw new NotFoundError(`No such container: ${ref}`)
        throw error
      })
    const inspect = toInspect(name, await child.get([], { signal }))
    const tty = inspect.Config?.Tty === true
    const stream = (await child.connect([], { signal })) as Duplex
    const wantStdin = isTrue(query.get('stdin'))
    const wantOut = isTrue(query.get('stdout')) || isTrue(query.get('stderr')) || !query.has('stdout')
    socket.write(
      upgraded
        ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`
        : `HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\nApi-Version: ${API_VERSION}\r\nConnection: close\r\n\r\n`,
    )
    const end = () => {
      if (!socket.destroyed) socket.end()
      stream.destroy()
    }
    stream.on('data', (chunk: Buffer) => {
      if (!wantOut) return
      const ok = socket.write(tty ? chunk : frame(1, chunk))
      if (!ok) {
        stream.pause()
        socket.once('drain', () => stream.resume())
      }
    })
    stream.on('end', end)
    stream.on('error', end)
    socket.on('close', () => stream.destroy())
    if (wantStdin) {
      if (head.length > 0) stream.write(head)
      socket.on('data', (chunk: Buffer) => stream.write(chunk))
      socket.on('end', () => stream.end())
    } else {
      socket.resume()
    }
  }

  async #logs(c: Call, ref: string): Promise<void> {
    const follow = isTrue(c.query.get('follow'))
    const tail = c.query.get('tail')
    if (tail !== null && tail !== 'all' && !/^\d+$/.test(tail)) {
      throw new HttpError(400, `${P} tail must be a number or "all", got ${JSON.stringify(tail)}`)
    }
    const stdout = isTrue(c.query.get('stdout'))
    const stderr = isTrue(c.query.get('stderr'))
    if (!stdout && !stderr) throw new HttpError(400, 'Bad parameters: you must choose at least one stream')
    const flags = [
      follow ? '--follow' : '--logs',
      ...(tail !== null && tail !== 'all' ? [`--tail=${tail}`] : []),
    ]
    let plainAttach = false
    const { output, child, name } = await this.#open(ref, flags, c.signal)
      .catch((error: unknown) => {
        // A backend that takes no flags on Attach: its plain Attach output is the log.
        if (isLibswarmError(error, 'INVALID_ARGUMENT')) {
          plainAttach = true
          return this.#open(ref, [], c.signal)
        }
        throw error
      })
      .catch((error: unknown) => {
        if (isLibswarmError(error, 'NOT_FOUND')) throw new NotFoundError(`No such container: ${ref}`)
        throw error
      })
    try {
      const tty = toInspect(name, await child.get([], { signal: c.signal })).Config?.Tty === true
      c.res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' })
      c.res.flushHeaders()
      const deadline = AbortSignal.timeout(LOGS_MAX_MS)
      for (;;) {
        let message: Message
        try {
          // A backend that took no flags follows anyway (its Attach output never ends): without -f,
          // stop once it has been quiet for a moment, or after LOGS_MAX_MS.
          message = await output.receive({
            signal:
              follow || !plainAttach
                ? c.signal
                : AbortSignal.any([c.signal, AbortSignal.timeout(LOGS_IDLE_MS), deadline]),
          })
        } catch (error) {
          if (
            isLibswarmError(error, 'CHANNEL_CLOSED') ||
            isLibswarmError(error, 'TIMEOUT') ||
            c.signal.aborted
          ) {
            break
          }
          throw error
        }
        if (message.verb === 'Error') break
        if (message.verb !== 'Log') continue
        const text = Buffer.from(message.args.map((line) => `${line}\n`).join(''))
        if (!c.res.write(tty ? text : frame(1, text))) {
          await new Promise<void>((resolve) => {
            c.res.once('drain', resolve)
            c.res.once('close', resolve)
          })
        }
      }
    } finally {
      output.cancel()
    }
    c.res.end()
  }

  /**
   * `/events`: Watch on the next stage, from `since` and until `until` when given (passed on as
   * `Watch --since=T --until=T`; a stage that does not take them is watched live, the events before
   * `since` dropped and the stream ended at `until` here).
   */
  async #events(c: Call): Promise<void> {
    const filters = parseFilters(c.query.get('filters'))
    const now = BigInt(Date.now()) * 1_000_000n
    const sinceText = c.query.get('since')
    const untilText = c.query.get('until')
    const since = sinceText ? parseEventTime(sinceText, 'since', now) : undefined
    const until = untilText ? parseEventTime(untilText, 'until', now) : undefined
    if (since !== undefined && until !== undefined && since > until)
      throw new HttpError(400, `${P} since must not be after until`)
    const range = [
      ...(since === undefined ? [] : [`--since=${unixText(since)}`]),
      ...(until === undefined ? [] : [`--until=${unixText(until)}`]),
    ]
    let events: Receiver<WatchEvent>
    let served = range.length > 0
    try {
      events = await this.#root.watch(range, { signal: c.signal })
    } catch (error) {
      if (!served || !isLibswarmError(error, 'INVALID_ARGUMENT')) throw error
      served = false
      events = await this.#root.watch([], { signal: c.signal })
    }
    c.res.writeHead(200, { 'Content-Type': 'application/json' })
    c.res.flushHeaders()
    const untilMs = until === undefined ? undefined : Number(until / 1_000_000n)
    // A stage that took --until ends the stream itself; one that ignored it is ended here once
    // `until` has passed and the stream has been quiet for a moment (never in the middle of a replay).
    let lastEvent = Date.now()
    let stop: NodeJS.Timeout | undefined
    const check = () => {
      const wait = served
        ? Math.max(0, untilMs! - Date.now(), lastEvent + UNTIL_QUIET_MS - Date.now())
        : untilMs! - Date.now()
      if (wait <= 0) events.cancel()
      else stop = setTimeout(check, wait)
    }
    if (untilMs !== undefined) check()
    try {
      for await (const event of events) {
        lastEvent = Date.now()
        const docker = toDockerEvent(event)
        if (!served) {
          const at = eventNanos(docker)
          if (since !== undefined && at < since) continue
          if (until !== undefined && at > until) break
        }
        if (!matchesEvent(docker, filters)) continue
        c.res.write(`${JSON.stringify(docker)}\n`)
      }
    } catch (error) {
      if (!c.signal.aborted && !isLibswarmError(error, 'CHANNEL_CLOSED')) throw error
    } finally {
      if (stop) clearTimeout(stop)
      events.cancel()
    }
    c.res.end()
  }
}

/** True when a `Get NAME` answer describes child `ref` (a Docker inspect result, or by name or id). */
function describes(described: unknown, ref: string): boolean {
  if (isDockerInspect(described)) return true
  if (typeof described !== 'object' || described === null) return false
  const d = described as Json
  const id = [d.id, d.Id, d.ID].find((v) => typeof v === 'string') as string | undefined
  return d.name === ref || (/^[0-9a-f]{1,64}$/.test(ref) && id?.startsWith(ref) === true)
}

/** A Docker event's time in nanoseconds since the epoch. */
function eventNanos(event: Json): bigint {
  if (typeof event.timeNano === 'number') return BigInt(Math.round(event.timeNano))
  return BigInt(Math.round(Number(event.time ?? 0))) * 1_000_000_000n
}

/** Nanoseconds since the epoch as `SECONDS.NANOSECONDS`. */
function unixText(nanos: bigint): string {
  return `${nanos / 1_000_000_000n}.${(nanos % 1_000_000_000n).toString().padStart(9, '0')}`
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
}

/**
 * An `/events` `since`/`until` in nanoseconds since the epoch: Unix seconds with an optional fraction
 * (what the docker CLI sends), RFC 3339, or a Go duration before `now` (`10m`, `1h30m`), as the CLI
 * accepts them on its command line.
 */
export function parseEventTime(text: string, what: string, now: bigint): bigint {
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text)
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0') || '0')
  const duration = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(text)
  if (duration) {
    let nanos = 0
    for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
      nanos += Number(value) * DURATION_UNITS[unit!]!
    return now - BigInt(Math.round(nanos))
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text)
    if (!Number.isNaN(ms)) {
      const fraction = /T[\d:]+\.(\d+)/.exec(text)?.[1] ?? ''
      const extra = fraction.length > 3 ? BigInt(fraction.slice(3, 9).padEnd(6, '0')) : 0n
      return BigInt(ms) * 1_000_000n + extra
    }
  }
  throw new HttpError(
    400,
    `${P} cannot parse ${what} ${JSON.stringify(text)}: use Unix seconds (1700000000.5), RFC 3339 or a duration before now (10m)`,
  )
}

function notFound(message: string): never {
  throw new NotFoundError(message)
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function isTrue(value: string | null): boolean {
  return value !== null && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/** Splits `/v1.41/containers/json?all=1` into a version-less path and its query; checks the version. */
function parseTarget(target: string): { path: string; query: URLSearchParams } {
  let url: URL
  try {
    url = new URL(target, 'http://docker')
  } catch {
    throw new HttpError(400, `${P} malformed request target ${JSON.stringify(target)}`)
  }
  let path = url.pathname.replace(/\/+$/, '') || '/'
  const version = /^\/v(\d+)\.(\d+)(\/.*)$/.exec(path)
  if (version) {
    const asked = Number(version[1]) * 1000 + Number(version[2])
    const [maxMajor, maxMinor] = API_VERSION.split('.').map(Number) as [number, number]
    const [minMajor, minMinor] = MIN_API_VERSION.split('.').map(Number) as [number, number]
    if (asked > maxMajor * 1000 + maxMinor) {
      throw new HttpError(
        400,
        `client version ${version[1]}.${version[2]} is too new. Maximum supported API version is ${API_VERSION}`,
      )
    }
    if (asked < minMajor * 1000 + minMinor) {
      throw new HttpError(
        400,
        `client version ${version[1]}.${version[2]} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      )
    }
    path = version[3]!
  }
  return { path, query: url.searchParams }
}

/** Docker's `filters` query: `{"status":["running"]}` or the legacy `{"status":{"running":true}}`. */
function parseFilters(text: string | null): Record<string, string[]> {
  if (!text) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new HttpError(400, `${P} filters is not valid JSON: ${text}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, `${P} filters must be a JSON object such as {"status":["running"]}`)
  }
  const out: Record<string, string[]> = {}
  for (const [key, value] of Object.entries(parsed as Json)) {
    if (Array.isArray(value)) out[key] = value.map(String)
    else if (typeof value === 'object' && value !== null)
      out[key] = Object.keys(value).filter((k) => value[k])
    else throw new HttpError(400, `${P} filter ${JSON.stringify(key)} must be a list of values`)
  }
  return out
}

function matchesEvent(event: Json, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue
    const name = event.Actor?.Attributes?.name
    const ok =
      key === 'type'
        ? values.includes(event.Type)
        : key === 'event'
          ? values.includes(event.Action) || values.includes(String(event.Action).split(':')[0]!)
          : key === 'container'
            ? values.some((v) => v === name || String(event.Actor?.ID ?? '').startsWith(v))
            : key === 'image'
              ? values.includes(event.Actor?.Attributes?.image ?? event.from)
              : true
    if (!ok) return false
  }
  return true
}

/** One frame of Docker's multiplexed stdio stream: [stream, 0, 0, 0, size (big endian)] + payload. */
export function frame(stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

async function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (declared > max)
    throw new HttpError(413, `${P} request body of ${declared} bytes is larger than the ${max} bytes allowed`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) throw new HttpError(413, `${P} request body is larger than the ${max} bytes allowed`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, `${P} the request body is not valid JSON (${(error as Error).message})`)
  }
}

/**
 * The Spawn args for a create body. A plain one (image, command, name) becomes the form every
 * container backend takes, `[--name NAME] IMAGE [CMD...]`; one with more settings (auto-remove, TTY,
 * environment, entrypoint, ...) is sent whole as one JSON argument, which `dockerclient` takes as a
 * Docker create body.
 */
export function spawnArgsFor(config: Json, name: string | undefined): string[] {
  const host: Json = config.HostConfig ?? {}
  const nonEmpty = (v: unknown) =>
    v !== undefined &&
    v !== null &&
    v !== '' &&
    !(Array.isArray(v) && v.length === 0) &&
    !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0)
  const rich =
    config.Tty === true ||
    config.OpenStdin === true ||
    ['Env', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'Healthcheck'].some(
      (k) => nonEmpty(config[k]),
    ) ||
    host.AutoRemove === true ||
    host.Privileged === true ||
    ['Binds', 'PortBindings', 'Mounts', 'Memory', 'NanoCpus', 'CpuShares', 'Devices', 'CapAdd'].some(
      (k) => nonEmpty(host[k]) && host[k] !== 0,
    ) ||
    (typeof host.NetworkMode === 'string' && !['', 'default'].includes(host.NetworkMode)) ||
    (nonEmpty(host.RestartPolicy?.Name) && host.RestartPolicy.Name !== 'no')
  if (rich) return [JSON.stringify(name ? { ...config, name } : config)]
  const cmd: string[] = Array.isArray(config.Cmd)
    ? config.Cmd.map(String)
    : typeof config.Cmd === 'string'
      ? [config.Cmd]
      : []
  return [...(name ? ['--name', name] : []), String(config.Image), ...cmd]
}

/** A Receiver that yields only the values `keep` accepts. */
function filterReceiver<T>(source: Receiver<T>, keep: (value: T) => boolean): Receiver<T> {
  const filtered = Object.create(source) as Receiver<T>
  filtered.receive = async (options) => {
    for (;;) {
      const value = await source.receive(options)
      if (keep(value)) return value
    }
  }
  filtered[Symbol.asyncIterator] = async function* () {
    for await (const value of source) if (keep(value)) yield value
  }
  filtered.cancel = (reason) => source.cancel(reason)
  return filtered
}
