/**
 * The Docker Engine side of `dockerclient`: dockerode calls, engine errors mapped onto core's error
 * classes, container logs as lines, the engine's event stream as WatchEvents (reconnecting), and a
 * container's stdio as one byte stream.
 */
import { Duplex, PassThrough, type Readable } from 'node:stream'
import {
  ConflictError,
  InvalidArgumentError,
  type LibswarmError,
  NotFoundError,
  RemoteError,
  UnauthorizedError,
  UnavailableError,
  type WatchEvent,
} from '@libswarm/core'
import Docker from 'dockerode'

/** Where the engine listens, as dockerode takes it. */
export type EngineAddress = Docker.DockerOptions

/**
 * Parses `unix:///path`, `tcp://host:port`, `http://host:port`, `https://host:port` or a bare socket
 * path. Without a URL: DOCKER_HOST, else `/var/run/docker.sock`.
 */
export function parseEngineUrl(url: string | undefined, env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const text = url ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'
  if (text.startsWith('/')) return { socketPath: text }
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new InvalidArgumentError(
      `[adapter-docker] cannot parse the engine URL ${JSON.stringify(text)}: expected unix:///path/to/docker.sock or tcp://host:port`,
    )
  }
  switch (parsed.protocol) {
    case 'unix:':
      if (!parsed.pathname || parsed.pathname === '/') {
        throw new InvalidArgumentError(`[adapter-docker] ${JSON.stringify(text)} names no socket path`)
      }
      return { socketPath: decodeURIComponent(parsed.pathname) }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      if (!parsed.hostname)
        throw new InvalidArgumentError(`[adapter-docker] ${JSON.stringify(text)} names no host`)
      const https = parsed.protocol === 'https:'
      return {
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: Number(parsed.port || (https ? 2376 : 2375)),
        protocol: https ? 'https' : 'http',
      }
    }
    default:
      throw new InvalidArgumentError(
        `[adapter-docker] unsupported engine URL scheme ${JSON.stringify(parsed.protocol)} in ${JSON.stringify(text)}: use unix://, tcp://, http:// or https://`,
      )
  }
}

/** Maps a dockerode / engine failure onto core's error classes, keeping the engine's own text. */
export function mapEngineError(error: unknown, what?: string): LibswarmError {
  const e = error as {
    statusCode?: number
    json?: { message?: string } | null
    reason?: string
    message?: string
    code?: string
  }
  const text =
    (typeof e?.json === 'object' && e.json?.message) ||
    (typeof e?.json === 'string' ? (e.json as string).trim() : '') ||
    e?.reason ||
    e?.message ||
    String(error)
  const options = { cause: error }
  switch (e?.statusCode) {
    case 400:
      return new InvalidArgumentError(text, options)
    case 401:
    case 403:
      return new UnauthorizedError(text, options)
    case 404:
      return new NotFoundError(text, options)
    case 409:
      return new ConflictError(text, options)
    case undefined:
      break
    default:
      return new RemoteError(text, options)
  }
  if (
    e?.code === 'ECONNREFUSED' ||
    e?.code === 'ENOENT' ||
    e?.code === 'ECONNRESET' ||
    e?.code === 'EPIPE' ||
    e?.code === 'EHOSTUNREACH'
  ) {
    return new UnavailableError(
      `[adapter-docker] the Docker Engine${what ? ` at ${what}` : ''} is not reachable (${e.code}): is dockerd running?`,
      options,
    )
  }
  return new RemoteError(text, options)
}

/** Calls `fn` and rethrows engine failures as core errors. */
export async function engineCall<T>(fn: () => Promise<T>, where?: string): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw mapEngineError(error, where)
  }
}

/** The name Docker shows for a container summary or inspect result (without the leading slash). */
export function containerName(summary: { Names?: string[]; Name?: string; Id?: string }): string {
  const name = summary.Names?.[0] ?? summary.Name ?? summary.Id ?? ''
  return name.startsWith('/') ? name.slice(1) : name
}

/** What a `Spawn` asks for: the create body, an optional name, whether to start it too. */
export interface SpawnRequest {
  config: Docker.ContainerCreateOptions
  start: boolean
}

/**
 * Parses Spawn args. Leading flags `--name=NAME` (or `--name NAME`) and `--start`; then either one
 * JSON object (a Docker create body; `name` and `start` fields allowed) or `IMAGE [CMD...]`.
 */
export function parseSpawnArgs(args: readonly string[]): SpawnRequest {
  let name: string | undefined
  let start = false
  let i = 0
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--start') start = true
    else if (arg.startsWith('--name=')) name = arg.slice('--name='.length)
    else if (arg === '--name') name = args[++i]
    else if (arg === '--') {
      i++
      break
    } else break
  }
  const rest = args.slice(i)
  const usage =
    'expected Spawn [--name=NAME] [--start] IMAGE [CMD...] or Spawn [--name=NAME] [--start] \'{"Image": "...", ...}\''
  if (rest.length === 0) throw new InvalidArgumentError(`[adapter-docker] Spawn needs an image: ${usage}`)
  let config: Docker.ContainerCreateOptions & { start?: unknown }
  if (rest[0]!.trimStart().startsWith('{')) {
    if (rest.length > 1)
      throw new InvalidArgumentError(
        `[adapter-docker] Spawn: extra arguments after the JSON config: ${usage}`,
      )
    let parsed: unknown
    try {
      parsed = JSON.parse(rest[0]!)
    } catch (error) {
      throw new InvalidArgumentError(
        `[adapter-docker] Spawn: the config is not valid JSON (${(error as Error).message}): ${usage}`,
      )
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidArgumentError(`[adapter-docker] Spawn: the config must be a JSON object: ${usage}`)
    }
    config = { ...(parsed as Docker.ContainerCreateOptions & { start?: unknown }) }
    if (config.start === true) start = true
    delete config.start
    const named = (config as { Name?: unknown }).Name
    if (config.name === undefined && typeof named === 'string') config.name = named
    delete (config as { Name?: unknown }).Name
  } else {
    config = { Image: rest[0]!, ...(rest.length > 1 ? { Cmd: rest.slice(1) } : {}) }
  }
  if (typeof config.Image !== 'string' || config.Image === '') {
    throw new InvalidArgumentError(`[adapter-docker] Spawn: the config names no "Image": ${usage}`)
  }
  if (name !== undefined) config.name = name
  if (config.name === '') delete config.name
  return { config, start }
}

/** A Docker event as the engine's /events stream sends it. */
export interface EngineEvent {
  Type?: string
  Action?: string
  status?: string
  id?: string
  from?: string
  Actor?: { ID?: string; Attributes?: Record<string, string> }
  time?: number
  timeNano?: number
}

/** The WatchEvent type for a Docker action: create, start, stop, delete, or change. */
export function eventType(action: string): string {
  if (action === 'create') return 'create'
  if (action === 'start' || action === 'restart' || action === 'unpause') return 'start'
  if (action === 'die' || action === 'stop' || action === 'kill' || action === 'oom' || action === 'pause') {
    return action === 'die' ? 'stop' : 'change'
  }
  if (action === 'destroy') return 'delete'
  return 'change'
}

/** A container event of the engine as a WatchEvent (the raw Docker event under `docker`). */
export function toWatchEvent(event: EngineEvent): WatchEvent | undefined {
  if ((event.Type ?? 'container') !== 'container') return undefined
  const action = event.Action ?? event.status ?? ''
  // exec_create: sh ..., health_status: healthy: keep the verb before the colon.
  const verb = action.split(':')[0]!.trim()
  const attributes = event.Actor?.Attributes ?? {}
  const id = event.Actor?.ID ?? event.id ?? ''
  const nanos = event.timeNano ?? (event.time ?? 0) * 1e9
  const watch: WatchEvent = {
    type: eventType(verb),
    name: attributes.name ?? id,
    time: new Date(Math.floor(nanos / 1e6)).toISOString(),
    action,
    id,
    image: attributes.image ?? event.from,
    docker: event,
  }
  if (attributes.exitCode !== undefined) watch.exitCode = Number(attributes.exitCode)
  return watch
}

/** Splits a Docker multiplexed stdio stream (8-byte frame headers) into its payload bytes. */
export class Demuxer {
  #buffer: Buffer = Buffer.alloc(0)
  /** Feeds bytes; returns the payloads of the complete frames, each with its stream (1 stdout, 2 stderr). */
  push(chunk: Buffer): { stream: number; data: Buffer }[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    const out: { stream: number; data: Buffer }[] = []
    while (this.#buffer.length >= 8) {
      const size = this.#buffer.readUInt32BE(4)
      if (this.#buffer.length < 8 + size) break
      out.push({ stream: this.#buffer[0]!, data: this.#buffer.subarray(8, 8 + size) })
      this.#buffer = this.#buffer.subarray(8 + size)
    }
    return out
  }
}

/** Turns chunks of text into whole lines (without their newline); `flush` gives the unfinished rest. */
export class LineSplitter {
  #rest = ''
  push(text: string): string[] {
    const parts = (this.#rest + text).split('\n')
    this.#rest = parts.pop() ?? ''
    return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
  }
  flush(): string[] {
    const rest = this.#rest
    this.#rest = ''
    return rest ? [rest] : []
  }
}

/**
 * A container's stdio as one Duplex: what you write goes to its stdin, what you read is its stdout
 * and stderr (demultiplexed when the container has no TTY).
 */
export function stdioDuplex(hijacked: NodeJS.ReadWriteStream & Duplex, tty: boolean): Duplex {
  const output = new PassThrough()
  const demuxer = new Demuxer()
  hijacked.on('data', (chunk: Buffer) => {
    if (tty) {
      if (!output.write(chunk)) hijacked.pause()
      return
    }
    let full = false
    for (const frame of demuxer.push(chunk)) if (!output.write(frame.data)) full = true
    if (full) hijacked.pause()
  })
  output.on('drain', () => hijacked.resume())
  hijacked.on('end', () => output.end())
  hijacked.on('error', (error) => output.destroy(error))
  const duplex = new Duplex({
    read() {
      resume()
    },
    write(chunk, _encoding, callback) {
      hijacked.write(chunk, callback as never)
    },
    final(callback) {
      // Half-close: the container sees the end of its stdin.
      const socket = hijacked as unknown as { end(): void }
      socket.end()
      callback()
    },
    destroy(error, callback) {
      hijacked.destroy()
      output.destroy()
      callback(error)
    },
  })
  const resume = () => {
    for (;;) {
      const chunk = output.read() as Buffer | null
      if (chunk === null) break
      if (!duplex.push(chunk)) return
    }
  }
  output.on('readable', resume)
  output.on('end', () => duplex.push(null))
  output.on('error', (error) => duplex.destroy(error))
  return duplex
}

/** Reads a Readable to its end as one Buffer. */
export async function readAll(stream: Readable | NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  }
  return Buffer.concat(chunks)
}

export { Docker }
