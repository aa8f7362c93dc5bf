import {
  type Backend,
  type BackendContext,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  Server,
  type Service,
} from '@libswarm/core'
import { handout } from './handout.ts'
import { type Container, type HostOptions, SimulatorHost } from './host.ts'

const USAGE = 'simulator [--log-interval MS] [NAME...]'

/** Options of {@link simulator}. */
export interface SimulatorOptions extends HostOptions {
  /** Containers to create at once (in state `created`). Default: none. */
  containers?: readonly string[]
  /** Where verbs the host does not answer go (a pipeline's next stage). Default: answered "not implemented". */
  fallback?: Service
  /** Ends the host (stops timers, ends watchers and outputs) when it fires. */
  signal?: AbortSignal
}

/** A running simulator: the host service and the in-memory model behind it. */
export interface Simulator {
  /** The host service: Ls, Attach, Spawn, Get, Watch, Start, Stop. */
  service: Service
  /** The model, for tests and embedding. */
  host: SimulatorHost
}

function noArgs(verb: string, args: readonly string[], usage: string): void {
  if (args.length > 0) {
    throw new InvalidArgumentError(
      `[adapter-simulator] ${verb} takes no arguments here, got ${JSON.stringify(args)}; usage: ${usage}`,
    )
  }
}

const STOP_USAGE = 'Stop [--time=SECONDS] [--rm [--force]]'
const ATTACH_USAGE = 'Attach NAME [--logs | --follow] [--tail=N]'

/** What `Stop`'s flags ask for (docs/VERBS.md, "Stop flags"). */
interface StopFlags {
  /** `--time=SECONDS`: the grace period; `0` kills (exit code 137). */
  time?: number
  /** `--rm`: remove after stopping. */
  remove: boolean
  /** `--force`: with `--rm`, remove a running container too. */
  force: boolean
  /** The other arguments: container names (on the host). */
  names: string[]
}

function parseStopFlags(args: readonly string[]): StopFlags {
  const flags: StopFlags = { remove: false, force: false, names: [] }
  for (const arg of args) {
    if (arg.startsWith('--time=')) {
      const text = arg.slice('--time='.length)
      if (!/^\d+$/.test(text)) {
        throw new InvalidArgumentError(
          `[adapter-simulator] --time needs a whole number of seconds, got ${JSON.stringify(text)}; usage: ${STOP_USAGE}`,
        )
      }
      flags.time = Number(text)
    } else if (arg === '--rm') flags.remove = true
    else if (arg === '--force') flags.force = true
    else if (arg.startsWith('-')) {
      throw new InvalidArgumentError(
        `[adapter-simulator] unknown Stop flag ${JSON.stringify(arg)}; usage: ${STOP_USAGE}`,
      )
    } else flags.names.push(arg)
  }
  if (flags.force && !flags.remove) {
    throw new InvalidArgumentError(`[adapter-simulator] --force only goes with --rm; usage: ${STOP_USAGE}`)
  }
  return flags
}

/**
 * Stops one container as `flags` say, or with `--rm` removes it (a running one only with `--force`,
 * which kills it first: exit code 137).
 */
function stopContainer(host: SimulatorHost, container: Container, flags: StopFlags): void {
  if (flags.remove) host.remove(container, flags.force)
  else container.stop(flags.time === 0 ? 137 : 0)
}

/** `Attach NAME [--logs | --follow] [--tail=N]` split; `logs` is undefined without a log flag. */
function parseAttachArgs(args: readonly string[]): {
  name: string
  logs?: { follow: boolean; tail?: number }
} {
  let name: string | undefined
  let follow: boolean | undefined
  let tail: number | undefined
  for (const arg of args) {
    if (arg === '--logs' || arg === '--follow') {
      if (follow !== undefined) {
        throw new InvalidArgumentError(
          `[adapter-simulator] give --logs or --follow, not both; usage: ${ATTACH_USAGE}`,
        )
      }
      follow = arg === '--follow'
    } else if (arg.startsWith('--tail=')) {
      const text = arg.slice('--tail='.length)
      if (!/^\d+$/.test(text)) {
        throw new InvalidArgumentError(
          `[adapter-simulator] --tail needs a whole number of lines, got ${JSON.stringify(text)}; usage: ${ATTACH_USAGE}`,
        )
      }
      tail = Number(text)
    } else if (arg.startsWith('--')) {
      throw new InvalidArgumentError(
        `[adapter-simulator] unknown Attach flag ${JSON.stringify(arg)}; usage: ${ATTACH_USAGE}`,
      )
    } else if (name === undefined) name = arg
    else {
      throw new InvalidArgumentError(
        `[adapter-simulator] Attach takes one container name (or none for the host itself), got ${JSON.stringify(args)}; Ls lists them`,
      )
    }
  }
  if (tail !== undefined && follow === undefined) {
    throw new InvalidArgumentError(
      `[adapter-simulator] --tail goes with --logs or --follow; usage: ${ATTACH_USAGE}`,
    )
  }
  if (follow !== undefined && !name) {
    throw new InvalidArgumentError(
      `[adapter-simulator] --logs and --follow need a container name; usage: ${ATTACH_USAGE}`,
    )
  }
  return follow === undefined ? { name: name ?? '' } : { name: name ?? '', logs: { follow, tail } }
}

function containerService(
  host: SimulatorHost,
  container: Container,
  signal: AbortSignal | undefined,
): Service {
  // A removed container's handed-out services answer NotFound, as Docker does for a removed id.
  const live = (): Container => {
    if (container.removed) {
      throw new NotFoundError(
        `[adapter-simulator] no such container: ${JSON.stringify(container.name)} (removed)`,
      )
    }
    return container
  }
  const server = new Server({
    onGet: (args) => {
      noArgs('Get', args, 'Get')
      return live().info()
    },
    onStart: (args) => {
      noArgs('Start', args, 'Start')
      live().start()
    },
    onStop: (args) => {
      const flags = parseStopFlags(args)
      if (flags.names.length > 0) noArgs('Stop', flags.names, STOP_USAGE)
      stopContainer(host, live(), flags)
    },
    onSet: (args) => live().set(args),
    onLog: (args) => {
      for (const line of args) live().log(line)
    },
    onWatch: (_args, context) => live().watchers.subscribe(context.signal),
    onConnect: () => live().connect(),
    onLs: () => [],
  })
  signal?.addEventListener('abort', () => void server.close(), { once: true })
  return server
}

/**
 * Creates a simulated container host. Its service answers:
 *
 * - `Ls`: the container names, sorted. `Ls --long`: each container's `Get` answer, in that order.
 * - `Spawn [--name NAME] [IMAGE [COMMAND...]]`: creates a container (state `created`); the reply's
 *   `ret` is the container's service.
 * - `Attach NAME`: the container's service; the Attach channel then carries its log (the lines so
 *   far, then each new one) as `Log` messages until the caller closes it.
 * - `Get`: `{ containers: ContainerInfo[] }`. `Watch`: every container's events.
 * - `Start`: nothing to do (the host is up). `Stop`: stops every running container.
 *
 * A container's service answers `Get` (its {@link ContainerInfo}), `Start`, `Stop`, `Set KEY=VALUE...`
 * (labels), `Log LINE...` (appends to its log), `Watch` (its events), `Connect` (a byte stream that
 * echoes, while it runs) and `Ls` (no children).
 */
export function simulator(options: SimulatorOptions = {}): Simulator {
  const host = new SimulatorHost(options)
  const signal = options.signal
  const services = new WeakMap<Container, Service>()
  const serviceOf = (container: Container): Service => {
    let service = services.get(container)
    if (!service) services.set(container, (service = containerService(host, container, signal)))
    return service
  }
  for (const name of options.containers ?? []) host.create(['--name', name])
  const service: Service = new Server(
    {
      onLs: (args) => {
        if (args.length === 0) return host.names()
        if (args.length === 1 && args[0] === '--long') {
          // Each container's Get in one reply (docs/VERBS.md, "Listing with descriptions").
          return host.names().map((name) => JSON.stringify(Object.assign({ name }, host.get(name).info())))
        }
        throw new InvalidArgumentError(
          `[adapter-simulator] Ls takes no arguments but --long, got ${JSON.stringify(args)}; usage: Ls [--long]`,
        )
      },
      onAttach: (args) => {
        const { name, logs } = parseAttachArgs(args)
        if (name === '') return handout(service)
        const container = host.get(name)
        const instance = handout(serviceOf(container))
        if (logs) return { instance, output: container.logs(logs.follow, logs.tail) }
        const history = container.history.map((line): Message => ({ verb: 'Log', args: [line] }))
        return { instance, output: container.outputs.subscribe(history) }
      },
      onSpawn: (args) => handout(serviceOf(host.create(args))),
      // With args, Get/Watch/Start/Stop/Connect address the containers they name (docs/VERBS.md rule 8).
      onGet: (args) => {
        if (args.length === 1) return host.get(args[0]!).info()
        if (args.length > 1)
          throw new InvalidArgumentError(`[adapter-simulator] usage: Get [NAME]; got ${JSON.stringify(args)}`)
        return { containers: host.names().map((name) => host.get(name).info()) }
      },
      onWatch: (args, context) => {
        if (args.length === 0) return host.watchers.subscribe(context.signal)
        const flag = args.find((arg) => arg.startsWith('-'))
        if (flag !== undefined)
          throw new InvalidArgumentError(
            `[adapter-simulator] Watch takes no flags (it keeps no past events), got ${JSON.stringify(flag)}; usage: Watch [NAME]`,
          )
        if (args.length > 1)
          throw new InvalidArgumentError(
            `[adapter-simulator] usage: Watch [NAME]; got ${JSON.stringify(args)}`,
          )
        return host.get(args[0]!).watchers.subscribe(context.signal)
      },
      onConnect: (args) => {
        if (args.length !== 1) {
          throw new InvalidArgumentError(
            `[adapter-simulator] usage: Connect NAME (the host itself has no stream); got ${JSON.stringify(args)}`,
          )
        }
        return host.get(args[0]!).connect()
      },
      onStart: (args) => {
        // No args: the host itself, which is up. Names: those containers (all found before any starts).
        for (const container of args.map((name) => host.get(name))) container.start()
      },
      onStop: (args) => {
        // No names: the host goes down, so every container stops. Names: those containers, with
        // the Stop flags (--time, --rm, --force) applied to each; all are found before any changes.
        const flags = parseStopFlags(args)
        if (flags.names.length === 0) {
          if (flags.remove) {
            throw new InvalidArgumentError(
              `[adapter-simulator] Stop --rm needs container names; usage: ${STOP_USAGE} NAME...`,
            )
          }
          for (const container of host.containers.values()) container.stop(flags.time === 0 ? 137 : 0)
          return
        }
        const containers = flags.names.map((name) => host.get(name))
        if (flags.remove && !flags.force) {
          const running = containers.find((container) => container.state === 'running')
          if (running) host.remove(running, false) // throws the ConflictError, before anything changes
        }
        for (const container of containers) stopContainer(host, container, flags)
      },
    },
    { fallback: options.fallback },
  )
  signal?.addEventListener(
    'abort',
    () => {
      host.dispose()
      void service.close()
    },
    { once: true },
  )
  return { service, host }
}

/** Parses `[--log-interval MS] [NAME...]`. */
export function parseSimulatorArgs(args: readonly string[]): { logInterval?: number; containers: string[] } {
  const containers: string[] = []
  let logInterval: number | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--log-interval' || arg.startsWith('--log-interval=')) {
      const value = arg === '--log-interval' ? args[++i] : arg.slice('--log-interval='.length)
      const ms = Number(value)
      if (value === undefined || value === '' || !Number.isFinite(ms) || ms <= 0) {
        throw new InvalidArgumentError(
          `[adapter-simulator] --log-interval needs a positive number of milliseconds, got ${JSON.stringify(value ?? null)}; usage: ${USAGE}`,
        )
      }
      logInterval = ms
    } else if (arg.startsWith('-')) {
      throw new InvalidArgumentError(
        `[adapter-simulator] unknown option ${JSON.stringify(arg)}; usage: ${USAGE}`,
      )
    } else {
      containers.push(arg)
    }
  }
  return { logInterval, containers }
}

/** The `simulator` backend: a fake container host kept in memory (the swarmd demo target). */
export const backend: Backend = {
  name: 'simulator',
  summary: 'a fake container host kept in memory: spawn, start, stop, inspect, watch, logs, echoing stdio',
  usage: USAGE,
  capabilities: {
    verbs: ['Attach', 'Connect', 'Get', 'Ls', 'Spawn', 'Start', 'Stop', 'Watch'],
    watch: true,
    connect: true,
    spawn: true,
    startStop: true,
  },
  spawn(args: string[], context: BackendContext): Service {
    const { logInterval, containers } = parseSimulatorArgs(args)
    const { service, host } = simulator({
      logInterval,
      containers,
      fallback: context.out,
      signal: context.signal,
    })
    host.onEvent = (event) => context.log(`${event.name}: ${event.type}`)
    return service
  },
}
