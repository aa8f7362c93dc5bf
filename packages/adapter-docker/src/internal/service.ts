/**
 * `dockerclient` as services: the engine (Ls, Attach, Spawn, Get, Watch) and one service per
 * container (Get, Start, Stop, Log, Watch, Connect, Set).
 */
import type { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  InvalidArgumentError,
  type Message,
  NotFoundError,
  replyAndClose,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import {
  containerName,
  Demuxer,
  Docker,
  type EngineEvent,
  engineCall,
  LineSplitter,
  mapEngineError,
  parseEngineUrl,
  parseSpawnArgs,
  stdioDuplex,
  toWatchEvent,
} from './engine.ts'

/** Options of {@link dockerClient}. */
export interface DockerClientOptions {
  /** Engine URL: `unix:///path`, `tcp://host:port`, `http(s)://host:port`. Default: DOCKER_HOST, else `unix:///var/run/docker.sock`. */
  url?: string
  /** Where the engine is, as dockerode takes it (overrides `url`). */
  engine?: Docker.DockerOptions
  /** Logs a line (reconnects of the event stream). Default: ignored. */
  log?: (line: string) => void
  /** Fires when the service must stop: open watches and log streams end. */
  signal?: AbortSignal
  /** How long to wait before reconnecting the event stream after it broke. Default: 500 ms. */
  reconnectDelayMs?: number
}

/** Creates the `dockerclient` service for one Docker Engine. */
export function dockerClient(options: DockerClientOptions = {}, parsed?: Docker.DockerOptions): Service {
  const engine = new Engine(options, parsed)
  return engine.root()
}

/** What a container name or id can be (a leading "/" allowed). */
const CONTAINER_REF = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

const ATTACH_USAGE = 'expected Attach NAME [--logs | --follow] [--tail=N]'
const STOP_USAGE = 'expected Stop [--time=SECONDS] [--rm] [--force]'

/** One engine connection and the services over it. */
export class Engine {
  readonly docker: Docker
  readonly where: string
  readonly #log: (line: string) => void
  readonly #signal: AbortSignal | undefined
  readonly #reconnectDelayMs: number

  constructor(options: DockerClientOptions, parsed?: Docker.DockerOptions) {
    const address = options.engine ?? parsed ?? parseEngineUrl(options.url)
    this.docker = new Docker(address)
    this.where = address.socketPath ?? `${address.host ?? 'localhost'}:${address.port ?? ''}`
    this.#log = options.log ?? (() => {})
    this.#signal = options.signal
    this.#reconnectDelayMs = options.reconnectDelayMs ?? 500
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return engineCall(fn, this.where)
  }

  root(): Service {
    return new Server({
      onLs: async (args) => {
        const long = args.length === 1 && args[0] === '--long'
        if (args.length > 0 && !long)
          throw new InvalidArgumentError(
            `[adapter-docker] Ls: unknown arguments ${JSON.stringify(args)}: expected Ls or Ls --long`,
          )
        // One /containers/json call either way; --long hands out each row (docs/VERBS.md, "Listing with
        // descriptions") with its `position` in the engine's list (newest first; Created is in seconds).
        const list = await this.#call(() => this.docker.listContainers({ all: true }))
        if (long)
          return list.map((summary, position) =>
            JSON.stringify({ name: containerName(summary), position, ...summary }),
          )
        return list.map(containerName)
      },
      onAttach: async (args, context) => {
        const [name, ...flags] = args
        if (!name)
          throw new InvalidArgumentError(
            `[adapter-docker] Attach needs a container name or id: ${ATTACH_USAGE}`,
          )
        let logs = false
        let follow = false
        let tail: string | undefined
        for (const flag of flags) {
          if (flag === '--logs') logs = true
          else if (flag === '--follow') logs = follow = true
          else if (flag.startsWith('--tail=')) tail = flag.slice('--tail='.length)
          else
            throw new InvalidArgumentError(
              `[adapter-docker] Attach: unknown flag ${JSON.stringify(flag)}: ${ATTACH_USAGE}`,
            )
        }
        // A container name or id is [a-zA-Z0-9][a-zA-Z0-9_.-]* (a leading "/" allowed): anything else
        // (../../etc/passwd) would make a request path the engine redirects elsewhere.
        if (!CONTAINER_REF.test(name))
          throw new NotFoundError(`[adapter-docker] no container named ${JSON.stringify(name)}`)
        // Attach answers only for a container that exists (NotFound otherwise).
        const info = await this.#call(() => this.docker.getContainer(name).inspect())
        const instance = this.container(info.Id)
        if (!logs) return instance
        return {
          instance,
          output: this.logs(this.docker.getContainer(info.Id), follow, tail, context.signal),
        }
      },
      onSpawn: async (args) => {
        const { config, start } = parseSpawnArgs(args)
        const { name, ...body } = config
        // dockerode would also copy the whole body into the query string: send the name alone there.
        const created = await this.#call(() =>
          this.docker.createContainer({ _query: name ? { name } : {}, _body: body } as never),
        )
        if (start) await this.#call(() => created.start())
        return this.container(created.id)
      },
      onGet: async (args) => {
        if (args.length > 1)
          throw new InvalidArgumentError(
            `[adapter-docker] Get takes one container name or id at most, got ${JSON.stringify(args)}: expected Get (the engine) or Get NAME (docker inspect)`,
          )
        if (args.length === 1) {
          // Get NAME on the engine: that container's Get (docs/VERBS.md rule 8), one engine call.
          const name = args[0]!
          if (!CONTAINER_REF.test(name))
            throw new NotFoundError(`[adapter-docker] no container named ${JSON.stringify(name)}`)
          return this.#call(() => this.docker.getContainer(name).inspect())
        }
        const [version, info] = await Promise.all([
          this.#call(() => this.docker.version()),
          this.#call(() => this.docker.info()),
        ])
        return { engine: this.where, version, info }
      },
      onWatch: (args, context) => this.events(context.signal, undefined, parseWatchArgs(args)),
      catchAll: (message) => this.#log2(message),
    })
  }

  async #log2(message: Message): Promise<void> {
    if (message.verb === 'Log' || message.verb === 'Error') {
      // A Log or Error sent to the engine: record it.
      this.#log(`${message.verb}: ${message.args.join(' ')}`)
      return replyAndClose(message.ret, { verb: 'Ack', args: [] })
    }
    return replyAndClose(message.ret, {
      verb: 'Error',
      args: [`not implemented: ${message.verb}`, 'NOT_IMPLEMENTED'],
    })
  }

  /** The service for one container (by id). Every Get asks the engine: nothing is cached. */
  container(id: string): Service {
    const container = this.docker.getContainer(id)
    return new Server({
      onGet: () => this.#call(() => container.inspect()),
      onStart: async () => {
        await this.#call(async () => {
          try {
            await container.start()
          } catch (error) {
            if ((error as { statusCode?: number }).statusCode !== 304) throw error // 304: already started
          }
        })
      },
      onStop: async (args) => {
        let time: number | undefined
        let remove = false
        let force = false
        for (const arg of args) {
          if (arg.startsWith('--time=') || arg.startsWith('-t=')) time = Number(arg.split('=')[1])
          else if (/^\d+$/.test(arg)) time = Number(arg)
          else if (arg === '--rm') remove = true
          else if (arg === '--force' || arg === '-f') force = true
          else
            throw new InvalidArgumentError(
              `[adapter-docker] Stop: unknown argument ${JSON.stringify(arg)}: ${STOP_USAGE}`,
            )
        }
        if (time !== undefined && !(time >= 0)) {
          throw new InvalidArgumentError(
            `[adapter-docker] Stop: --time must be a number of seconds: ${STOP_USAGE}`,
          )
        }
        if (remove) {
          await this.#call(() => container.remove({ force }))
          return
        }
        await this.#call(async () => {
          try {
            await container.stop(time === undefined ? {} : { t: time })
          } catch (error) {
            if ((error as { statusCode?: number }).statusCode !== 304) throw error // 304: already stopped
          }
        })
      },
      onSet: async (args) => {
        for (const arg of args) {
          const eq = arg.indexOf('=')
          if (arg.trimStart().startsWith('{')) {
            let update: unknown
            try {
              update = JSON.parse(arg)
            } catch (error) {
              throw new InvalidArgumentError(
                `[adapter-docker] Set: not valid JSON (${(error as Error).message})`,
              )
            }
            await this.#call(() => container.update(update as object))
          } else if (eq > 0 && arg.slice(0, eq) === 'name') {
            await this.#call(() => container.rename({ name: arg.slice(eq + 1) }))
          } else {
            throw new InvalidArgumentError(
              `[adapter-docker] Set: cannot apply ${JSON.stringify(arg)}: expected name=NEWNAME or a JSON update body such as '{"Memory": 67108864}'`,
            )
          }
        }
      },
      onWatch: async (args, context) => {
        const range = parseWatchArgs(args)
        const info = await this.#call(() => container.inspect())
        return this.events(context.signal, info.Id, range)
      },
      onConnect: (args) => this.#connect(container, args),
    })
  }

  async #connect(container: Docker.Container, args: string[]): Promise<Duplex> {
    const info = await this.#call(() => container.inspect())
    const tty = info.Config?.Tty === true
    if (args[0] === 'exec') {
      const cmd = args.slice(1)
      if (cmd.length === 0)
        throw new InvalidArgumentError(
          '[adapter-docker] Connect exec needs a command: Connect exec CMD [ARGS...]',
        )
      const exec = await this.#call(() =>
        container.exec({ Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false }),
      )
      const stream = await this.#call(() => exec.start({ hijack: true, stdin: true }))
      return stdioDuplex(stream as never, false)
    }
    if (args.length > 0) {
      throw new InvalidArgumentError(
        `[adapter-docker] Connect: unknown arguments ${JSON.stringify(args)}: expected Connect (the container's stdio) or Connect exec CMD [ARGS...]`,
      )
    }
    const stream = await this.#call(() =>
      container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }),
    )
    return stdioDuplex(stream as never, tty)
  }

  /**
   * The container's output as `Log` messages (args = lines): what it printed so far, then (with
   * `follow`) what it prints until it exits or `signal` fires.
   */
  async *logs(
    container: Docker.Container,
    follow: boolean,
    tail: string | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<Message> {
    const info = await this.#call(() => container.inspect())
    const tty = info.Config?.Tty === true
    const options = {
      stdout: true,
      stderr: true,
      ...(tail && tail !== 'all' ? { tail: Number(tail) } : {}),
    }
    const stream: NodeJS.ReadableStream | Buffer = follow
      ? await this.#call(() => container.logs({ ...options, follow: true }))
      : await this.#call(() => container.logs({ ...options, follow: false }))
    const splitter = new LineSplitter()
    const demuxer = new Demuxer()
    const linesOf = (chunk: Buffer): string[] => {
      if (tty) return splitter.push(chunk.toString('utf8'))
      return demuxer.push(chunk).flatMap((frame) => splitter.push(frame.data.toString('utf8')))
    }
    if (Buffer.isBuffer(stream)) {
      const lines = [...linesOf(stream), ...splitter.flush()]
      if (lines.length > 0) yield { verb: 'Log', args: lines }
      return
    }
    const readable = stream as NodeJS.ReadableStream & { destroy(): void }
    const stop = this.#signal ? AbortSignal.any([signal, this.#signal]) : signal
    const onAbort = () => readable.destroy()
    stop.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const chunk of readable as AsyncIterable<Buffer>) {
        const lines = linesOf(chunk)
        if (lines.length > 0) yield { verb: 'Log', args: lines }
      }
    } catch (error) {
      if (!stop.aborted) throw mapEngineError(error, this.where)
    } finally {
      stop.removeEventListener('abort', onAbort)
      readable.destroy()
    }
    const rest = splitter.flush()
    if (rest.length > 0) yield { verb: 'Log', args: rest }
  }

  /**
   * The engine's container events as WatchEvents (only those of container `id` when given), from
   * `range.since` (else from now) until `range.until` has passed (else until `signal` fires). When the
   * stream breaks (dockerd restarted), it logs it, reconnects and asks the engine for what happened
   * since the last event it delivered (exactly, in nanoseconds), skipping those it already delivered.
   */
  async *events(signal: AbortSignal, id?: string, range: WatchRange = {}): AsyncGenerator<WatchEvent> {
    const stop = this.#signal ? AbortSignal.any([signal, this.#signal]) : signal
    // Where the next stream starts: the asked start, else the time the first stream opened, then the
    // time of the last event delivered (the engine's since is inclusive).
    let since: bigint | undefined = range.since
    let delivered = new Set<string>() // keys of the events delivered at exactly `since`
    let first = true
    let broken = false
    while (!stop.aborted) {
      let stream: NodeJS.ReadableStream & { destroy(): void }
      const opening = BigInt(Date.now()) * 1_000_000n
      try {
        const filters: Record<string, string[]> = { type: ['container'] }
        if (id) filters.container = [id]
        stream = (await this.docker.getEvents({
          filters: JSON.stringify(filters),
          ...(since === undefined ? {} : { since: unixText(since) }),
          ...(range.until === undefined ? {} : { until: unixText(range.until) }),
        } as never)) as never
      } catch (error) {
        const mapped = mapEngineError(error, this.where)
        if (first) throw mapped
        this.#log(`[adapter-docker] event stream: ${mapped.message}; retrying`)
        // Ends early when `stop` fires (the rejection is that; the loop then stops).
        await sleep(this.#reconnectDelayMs, undefined, { signal: stop }).catch(() => {})
        continue
      }
      if (broken) {
        this.#log(
          `[adapter-docker] event stream reconnected; asked the engine for the events since ${since === undefined ? 'now' : unixText(since)}`,
        )
      }
      if (first && since === undefined) since = opening
      first = false
      broken = false
      // This stream starts at `from`; what it replays at exactly `from` may have been delivered
      // before the reconnect. Later events can come out of time order (dockerd stamps an event,
      // then publishes it): each one is delivered, and `since` only ever moves forward.
      const from = since
      const replayed = delivered
      const onAbort = () => stream.destroy()
      stop.addEventListener('abort', onAbort, { once: true })
      const splitter = new LineSplitter()
      let ended = false
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          for (const line of splitter.push(chunk.toString('utf8'))) {
            if (!line.trim()) continue
            let event: EngineEvent
            try {
              event = JSON.parse(line) as EngineEvent
            } catch {
              continue
            }
            // timeNano does not fit a double: read its digits from the text.
            const nanos = /"timeNano":(\d+)/.exec(line)?.[1]
            const at = nanos ? BigInt(nanos) : BigInt(event.time ?? 0) * 1_000_000_000n
            const key = `${at}|${event.Actor?.ID ?? event.id ?? ''}|${event.Action ?? event.status ?? ''}`
            if (from !== undefined && at < from) continue
            if (from !== undefined && at === from && replayed.has(key)) continue // replayed
            if (since === undefined || at > since) {
              since = at
              delivered = new Set()
            }
            if (at === since) delivered.add(key)
            const watch = toWatchEvent(event)
            if (watch) yield watch
          }
        }
        ended = true
      } catch {
        // Broken stream: reconnect below.
      } finally {
        stop.removeEventListener('abort', onAbort)
      }
      if (stop.aborted) return
      // The engine ends the stream itself once `until` has passed.
      if (ended && range.until !== undefined && BigInt(Date.now()) * 1_000_000n >= range.until) return
      broken = true
      this.#log('[adapter-docker] event stream ended; reconnecting')
      await sleep(this.#reconnectDelayMs, undefined, { signal: stop }).catch(() => {})
    }
  }
}

/** Where a Watch starts and ends, in nanoseconds since the epoch. */
export interface WatchRange {
  since?: bigint
  until?: bigint
}

/** Nanoseconds since the epoch as the engine's `since`/`until` take it: `SECONDS.NANOSECONDS`. */
function unixText(nanos: bigint): string {
  return `${nanos / 1_000_000_000n}.${(nanos % 1_000_000_000n).toString().padStart(9, '0')}`
}

const WATCH_USAGE =
  'expected Watch [--since=TIME] [--until=TIME] (TIME: Unix seconds such as 1700000000.5, or RFC 3339)'

/** `Watch [--since=TIME] [--until=TIME]` (docs/VERBS.md, "Watching from a point in time"). */
export function parseWatchArgs(args: readonly string[]): WatchRange {
  const range: WatchRange = {}
  for (const arg of args) {
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    if ((flag !== '--since' && flag !== '--until') || eq < 0)
      throw new InvalidArgumentError(
        `[adapter-docker] Watch: unknown argument ${JSON.stringify(arg)}: ${WATCH_USAGE}`,
      )
    const nanos = parseTimeNanos(arg.slice(eq + 1))
    if (nanos === undefined)
      throw new InvalidArgumentError(
        `[adapter-docker] Watch: cannot read the time in ${JSON.stringify(arg)}: ${WATCH_USAGE}`,
      )
    if (flag === '--since') range.since = nanos
    else range.until = nanos
  }
  return range
}

/** Unix seconds (a fraction of up to 9 digits allowed) or RFC 3339, in nanoseconds since the epoch. */
export function parseTimeNanos(text: string): bigint | undefined {
  const unix = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(text)
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0') || '0')
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) return undefined
  // Keep sub-millisecond digits Date.parse drops.
  const fraction = /T[\d:]+\.(\d+)/.exec(text)?.[1] ?? ''
  const extra = fraction.length > 3 ? BigInt(fraction.slice(3, 9).padEnd(6, '0')) : 0n
  return BigInt(ms) * 1_000_000n + extra
}
