import { type Duplex, PassThrough } from 'node:stream'
import {
  ConflictError,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  type Receiver,
  UnavailableError,
  type WatchEvent,
  WatchHub,
} from '@libswarm/core'
import { Fanout } from './fanout.ts'

/** A simulated container's run state, as Docker names them. */
export type ContainerState = 'created' | 'running' | 'exited'

/**
 * What Get answers for a container: enough to fill `docker ps` and `docker inspect`.
 * Times are ISO 8601 strings; `null` when it has not happened yet.
 */
export interface ContainerInfo {
  /** 64 lowercase hex digits, like a Docker container id. */
  id: string
  /** Unique name. */
  name: string
  /** Image it was created from. */
  image: string
  /** The command, as an argv array. */
  command: string[]
  /** When it was created. */
  created: string
  /** Run state. */
  state: ContainerState
  /** Human-readable status, as `docker ps` prints it: `Created`, `Up 3 seconds`, `Exited (0) 2 seconds ago`. */
  status: string
  /** Whether it is running. */
  running: boolean
  /** A fake process id while running, 0 otherwise. */
  pid: number
  /** Exit code of the last run; `null` before the first stop. */
  exitCode: number | null
  /** When the last run started. */
  startedAt: string | null
  /** When the last run ended. */
  finishedAt: string | null
  /** How many times it was started. */
  restartCount: number
  /** Labels (changed with Set KEY=VALUE). */
  labels: Record<string, string>
}

/** Options of {@link SimulatorHost}. */
export interface HostOptions {
  /** Milliseconds between the log lines a running container emits. Default: 1000. */
  logInterval?: number
  /** Clock (tests). Default: `Date.now`. */
  now?: () => number
}

/** The default image of a container spawned without one. */
export const DEFAULT_IMAGE = 'busybox:latest'
/** The default command of a container spawned without one. */
export const DEFAULT_COMMAND: readonly string[] = ['sh']
/** How many log lines each container keeps. */
export const LOG_HISTORY = 1000

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/

let nextPid = 4000

/** One simulated container. */
export class Container {
  readonly id: string
  readonly name: string
  readonly image: string
  readonly command: string[]
  readonly created: number
  state: ContainerState = 'created'
  pid = 0
  exitCode: number | null = null
  startedAt: number | null = null
  finishedAt: number | null = null
  restartCount = 0
  labels: Record<string, string> = {}
  /** The last {@link LOG_HISTORY} log lines. */
  readonly history: string[] = []
  /** Attached outputs: they get a Log message per line. */
  readonly outputs = new Fanout<Message>()
  /** `Attach NAME --follow` outputs: like {@link outputs}, but they end when the container stops. */
  readonly followers = new Fanout<Message>()
  /** True once removed (`Stop --rm`): its services answer NotFound from then on. */
  removed = false
  /** Watchers of this container only. */
  readonly watchers = new WatchHub()
  /** Byte streams handed out by Connect; they end when the container stops. */
  readonly streams = new Set<Duplex>()
  private timer: ReturnType<typeof setInterval> | undefined
  private ticks = 0

  constructor(
    private readonly host: SimulatorHost,
    name: string,
    image: string,
    command: string[],
  ) {
    this.id = randomId()
    this.name = name
    this.image = image
    this.command = command
    this.created = host.now()
  }

  info(): ContainerInfo {
    return {
      id: this.id,
      name: this.name,
      image: this.image,
      command: [...this.command],
      created: iso(this.created),
      state: this.state,
      status: this.status(),
      running: this.state === 'running',
      pid: this.pid,
      exitCode: this.exitCode,
      startedAt: this.startedAt === null ? null : iso(this.startedAt),
      finishedAt: this.finishedAt === null ? null : iso(this.finishedAt),
      restartCount: this.restartCount,
      labels: { ...this.labels },
    }
  }

  status(): string {
    const now = this.host.now()
    if (this.state === 'created') return 'Created'
    if (this.state === 'running') return `Up ${ago(now - (this.startedAt ?? now))}`
    return `Exited (${this.exitCode ?? 0}) ${ago(now - (this.finishedAt ?? now))} ago`
  }

  /** Starts it. Starting a running container does nothing (as Docker does). */
  start(): void {
    if (this.state === 'running') return
    if (this.startedAt !== null) this.restartCount++
    this.state = 'running'
    this.pid = nextPid++
    this.startedAt = this.host.now()
    this.finishedAt = null
    this.ticks = 0
    this.log(`$ ${this.command.join(' ')}`)
    this.timer = setInterval(() => this.log(`${this.name}: tick ${++this.ticks}`), this.host.logInterval)
    this.timer.unref?.()
    this.host.emit({ type: 'start', name: this.name, state: 'running', id: this.id })
  }

  /** Stops it with `exitCode` (default 0). Stopping a container that is not running does nothing. */
  stop(exitCode = 0): void {
    if (this.state !== 'running') return
    clearInterval(this.timer)
    this.timer = undefined
    this.log(`${this.name}: stopped`)
    // Like `docker logs -f`, a followed log ends when the container stops.
    this.followers.close()
    for (const stream of this.streams) stream.end()
    this.streams.clear()
    this.state = 'exited'
    this.pid = 0
    this.exitCode = exitCode
    this.finishedAt = this.host.now()
    this.host.emit({ type: 'stop', name: this.name, state: 'exited', id: this.id, exitCode })
  }

  /** Applies `KEY=VALUE` (or `KEY=` to remove) pairs to the labels. */
  set(pairs: string[]): void {
    if (pairs.length === 0) {
      throw new InvalidArgumentError('[adapter-simulator] Set expects KEY=VALUE arguments, got none')
    }
    const changes: Record<string, string> = {}
    for (const pair of pairs) {
      const eq = pair.indexOf('=')
      if (eq <= 0) {
        throw new InvalidArgumentError(
          `[adapter-simulator] Set expects KEY=VALUE arguments, got ${JSON.stringify(pair)}`,
        )
      }
      changes[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    for (const [key, value] of Object.entries(changes)) {
      if (value === '') delete this.labels[key]
      else this.labels[key] = value
    }
    this.host.emit({
      type: 'change',
      name: this.name,
      state: this.state,
      id: this.id,
      labels: { ...this.labels },
    })
  }

  /** Records a log line and sends it to every attached output. */
  log(line: string): void {
    this.history.push(line)
    if (this.history.length > LOG_HISTORY) this.history.shift()
    this.outputs.publish({ verb: 'Log', args: [line] })
    this.followers.publish({ verb: 'Log', args: [line] })
  }

  /**
   * The log as an Attach output (docs/VERBS.md, "Reading logs"): the last `tail` lines of the history
   * (all by default), then, with `follow`, each new line until the container stops (at once when it
   * is not running); without `follow` the output ends after the history.
   */
  logs(follow: boolean, tail?: number): Receiver<Message> {
    const lines = tail === undefined ? this.history : tail === 0 ? [] : this.history.slice(-tail)
    const history = lines.map((line): Message => ({ verb: 'Log', args: [line] }))
    if (follow && this.state === 'running') return this.followers.subscribe(history)
    const once = new Fanout<Message>()
    const output = once.subscribe(history)
    once.close()
    return output
  }

  /** A byte stream to the container's stdio: it echoes what is written, until the container stops. */
  connect(): Duplex {
    if (this.state !== 'running') {
      throw new UnavailableError(
        `[adapter-simulator] container ${JSON.stringify(this.name)} is not running; Start it before Connect`,
      )
    }
    const stream = new PassThrough()
    this.streams.add(stream)
    stream.once('close', () => this.streams.delete(stream))
    return stream
  }

  /** Stops the timer and ends every output and watcher (the host is going away). */
  dispose(): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const stream of this.streams) stream.destroy()
    this.streams.clear()
    this.outputs.close()
    this.followers.close()
    this.watchers.close()
  }
}

/** A fake container host kept in memory. */
export class SimulatorHost {
  readonly containers = new Map<string, Container>()
  /** Watchers of every container. */
  readonly watchers = new WatchHub()
  readonly logInterval: number
  readonly now: () => number
  /** Called with every event (the backend logs state changes with it). */
  onEvent: ((event: WatchEvent) => void) | undefined
  private serial = 0

  constructor(options: HostOptions = {}) {
    this.logInterval = options.logInterval ?? 1000
    this.now = options.now ?? Date.now
    if (!(this.logInterval > 0)) {
      throw new InvalidArgumentError(
        `[adapter-simulator] logInterval must be a positive number of milliseconds, got ${options.logInterval}`,
      )
    }
  }

  /** Names of every container, sorted. */
  names(): string[] {
    return [...this.containers.keys()].sort()
  }

  /** The container called `name` (or whose id starts with `name`, at least 12 digits, as Docker allows). */
  get(name: string): Container {
    const byName = this.containers.get(name)
    if (byName) return byName
    if (/^[0-9a-f]{12,64}$/.test(name)) {
      for (const container of this.containers.values()) if (container.id.startsWith(name)) return container
    }
    throw new NotFoundError(`[adapter-simulator] no such container: ${JSON.stringify(name)}; Ls lists them`)
  }

  /**
   * Creates a container from Spawn's arguments: `[--name NAME] [IMAGE [COMMAND...]]`.
   * Without a name it gets one (`sim-1`, `sim-2`, ...); without an image, {@link DEFAULT_IMAGE}.
   */
  create(args: readonly string[]): Container {
    let name: string | undefined
    let rest = [...args]
    while (rest[0]?.startsWith('--')) {
      const flag = rest[0]
      if (flag === '--') {
        rest = rest.slice(1)
        break
      }
      if (flag === '--name' || flag.startsWith('--name=')) {
        const value = flag === '--name' ? rest[1] : flag.slice('--name='.length)
        if (value === undefined)
          throw new InvalidArgumentError(`[adapter-simulator] ${SPAWN_USAGE}: --name needs a value`)
        name = value
        rest = rest.slice(flag === '--name' ? 2 : 1)
        continue
      }
      throw new InvalidArgumentError(
        `[adapter-simulator] ${SPAWN_USAGE}: unknown option ${JSON.stringify(flag)}`,
      )
    }
    if (name === undefined) {
      do name = `sim-${++this.serial}`
      while (this.containers.has(name))
    }
    if (!NAME.test(name)) {
      throw new InvalidArgumentError(
        `[adapter-simulator] invalid container name ${JSON.stringify(name)}: use letters, digits, "_", "." and "-", starting with a letter or digit`,
      )
    }
    if (this.containers.has(name)) {
      throw new ConflictError(`[adapter-simulator] a container named ${JSON.stringify(name)} already exists`)
    }
    const image = rest[0] ?? DEFAULT_IMAGE
    if (image === '') throw new InvalidArgumentError(`[adapter-simulator] ${SPAWN_USAGE}: the image is empty`)
    const command = rest.length > 1 ? rest.slice(1) : [...DEFAULT_COMMAND]
    const container = new Container(this, name, image, command)
    this.containers.set(name, container)
    this.emit({ type: 'create', name, state: 'created', id: container.id })
    return container
  }

  /**
   * Removes `container` (`Stop --rm`): a running one only with `force` (it is stopped first, exit
   * code 137 as if killed), otherwise ConflictError. Watchers see `stop` (if it ran) then `delete`;
   * its outputs and watchers end, and its services answer NotFound from then on.
   */
  remove(container: Container, force: boolean): void {
    if (container.state === 'running') {
      if (!force) {
        throw new ConflictError(
          `[adapter-simulator] cannot remove the running container ${JSON.stringify(container.name)}: stop it first, or Stop --rm --force`,
        )
      }
      container.stop(137)
    }
    this.emit({ type: 'delete', name: container.name, state: 'removed', id: container.id })
    this.containers.delete(container.name)
    container.removed = true
    container.dispose()
  }

  /** Tells the host's and the container's watchers about a change. */
  emit(event: WatchEvent): void {
    const full: WatchEvent = { ...event, time: iso(this.now()) }
    this.watchers.publish(full)
    this.containers.get(event.name)?.watchers.publish(full)
    this.onEvent?.(full)
  }

  /** Stops every container's timer and ends every channel the host holds. */
  dispose(): void {
    for (const container of this.containers.values()) container.dispose()
    this.watchers.close()
  }
}

/** Spawn's usage, quoted in its errors. */
export const SPAWN_USAGE = 'usage: Spawn [--name NAME] [IMAGE [COMMAND...]]'

function randomId(): string {
  const bytes = new Uint8Array(32)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function iso(time: number): string {
  return new Date(time).toISOString()
}

/** Docker's `units.HumanDuration`, roughly: "Less than a second", "3 seconds", "2 minutes", ... */
export function ago(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(seconds / 3600)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  return `${Math.floor(hours / 24)} days`
}
