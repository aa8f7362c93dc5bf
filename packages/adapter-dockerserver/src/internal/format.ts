/**
 * Docker Engine API shapes built from what a service's `Get` describes. A backend that is a Docker
 * Engine (`dockerclient`) answers Get with a real inspect result, passed through unchanged; any other
 * backend's description is mapped onto the fields the docker CLI reads.
 */
import { createHash } from 'node:crypto'
import type { WatchEvent } from '@libswarm/core'

type Json = Record<string, any>

/** The API version served (the docker CLI negotiates down to it). */
export const API_VERSION = '1.41'
/** The oldest API version accepted in a `/v1.xx/` path prefix. */
export const MIN_API_VERSION = '1.24'

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function str(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value
  return undefined
}

/** True when `value` is already a Docker inspect result. */
export function isDockerInspect(value: unknown): value is Json {
  return isObject(value) && typeof value.Id === 'string' && isObject(value.State) && isObject(value.Config)
}

/** A 64-hex id derived from a name, for backends whose children have no id of their own. */
export function idFromName(name: string): string {
  return createHash('sha256').update(name).digest('hex')
}

const ZERO_TIME = '0001-01-01T00:00:00Z'

/** A Docker inspect result for child `name`, from its Get description. */
export function toInspect(name: string, described: unknown): Json {
  if (isDockerInspect(described)) return described
  const d: Json = isObject(described) ? described : { value: described }
  const stateText = (
    str(d.State?.Status, d.state, d.status, typeof d.State === 'string' ? d.State : undefined) ?? 'running'
  ).toLowerCase()
  const status = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'].includes(
    stateText,
  )
    ? stateText
    : stateText === 'stopped'
      ? 'exited'
      : stateText === 'started'
        ? 'running'
        : 'running'
  const command = d.Cmd ?? d.cmd ?? d.command ?? d.Command
  const cmd: string[] = Array.isArray(command)
    ? command.map(String)
    : typeof command === 'string' && command
      ? command.split(' ')
      : []
  const created = str(d.Created, d.created, d.createdAt) ?? new Date(0).toISOString()
  const exitCode = Number(d.State?.ExitCode ?? d.exitCode ?? d.ExitCode ?? 0) || 0
  const image = str(d.Image, d.image) ?? 'unknown'
  const id = str(d.Id, d.id, d.ID) ?? idFromName(name)
  return {
    Id: id,
    Created: created,
    Path: cmd[0] ?? '',
    Args: cmd.slice(1),
    State: {
      Status: status,
      Running: status === 'running',
      Paused: status === 'paused',
      Restarting: status === 'restarting',
      OOMKilled: false,
      Dead: status === 'dead',
      Pid: 0,
      ExitCode: exitCode,
      Error: '',
      StartedAt: str(d.State?.StartedAt, d.startedAt) ?? (status === 'running' ? created : ZERO_TIME),
      FinishedAt: str(d.State?.FinishedAt, d.finishedAt) ?? ZERO_TIME,
    },
    Image: `sha256:${idFromName(image)}`,
    Name: `/${name}`,
    RestartCount: 0,
    Driver: 'libswarm',
    Platform: 'linux',
    HostConfig: { NetworkMode: 'default', AutoRemove: false },
    Mounts: [],
    Config: {
      Hostname: name,
      Image: image,
      Cmd: cmd,
      Tty: d.Config?.Tty === true || d.tty === true,
      OpenStdin: false,
      Env: [],
      Labels: isObject(d.Labels ?? d.labels) ? (d.Labels ?? d.labels) : {},
    },
    NetworkSettings: { Networks: {}, Ports: {} },
    Libswarm: { name, described },
  }
}

/** Go's `units.HumanDuration`, which dockerd uses for the "Up 5 seconds" status column. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(ms / 60_000)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(ms / 3_600_000)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(hours / 24 / 365)} years`
}

function since(iso: unknown, now: number): number {
  const t = typeof iso === 'string' ? Date.parse(iso) : Number.NaN
  return Number.isNaN(t) ? 0 : Math.max(0, now - t)
}

/** The "Status" column of `docker ps`, as dockerd words it. */
export function statusText(state: Json, now = Date.now()): string {
  switch (state.Status) {
    case 'running':
      if (state.Paused) return `Up ${humanDuration(since(state.StartedAt, now))} (Paused)`
      return `Up ${humanDuration(since(state.StartedAt, now))}`
    case 'paused':
      return `Up ${humanDuration(since(state.StartedAt, now))} (Paused)`
    case 'restarting':
      return `Restarting (${state.ExitCode}) ${humanDuration(since(state.FinishedAt, now))} ago`
    case 'removing':
      return 'Removal In Progress'
    case 'dead':
      return 'Dead'
    case 'created':
      return 'Created'
    case 'exited':
      if (!state.FinishedAt || state.FinishedAt === ZERO_TIME) return 'Created'
      return `Exited (${state.ExitCode}) ${humanDuration(since(state.FinishedAt, now))} ago`
    default:
      return String(state.Status ?? '')
  }
}

/** An argument as dockerd's list shows it: quoted when it holds spaces or quotes. */
function quoteArg(arg: string): string {
  return /[\s'"]/.test(arg) ? `'${arg.replace(/'/g, "'\\''")}'` : arg
}

/** A `GET /containers/json` row from an inspect result. */
export function toSummary(inspect: Json): Json {
  const ports: Json[] = []
  const bound = inspect.NetworkSettings?.Ports
  if (isObject(bound)) {
    for (const [key, bindings] of Object.entries(bound)) {
      const [port, type = 'tcp'] = key.split('/')
      if (Array.isArray(bindings) && bindings.length > 0) {
        for (const b of bindings) {
          ports.push({
            IP: b.HostIp ?? '',
            PrivatePort: Number(port),
            PublicPort: Number(b.HostPort),
            Type: type,
          })
        }
      } else ports.push({ PrivatePort: Number(port), Type: type })
    }
  }
  const path = typeof inspect.Path === 'string' ? inspect.Path : ''
  const args: string[] = Array.isArray(inspect.Args) ? inspect.Args : []
  const created = Date.parse(inspect.Created)
  return {
    Id: inspect.Id,
    Names: [
      typeof inspect.Name === 'string' && inspect.Name.startsWith('/') ? inspect.Name : `/${inspect.Name}`,
    ],
    Image: inspect.Config?.Image ?? inspect.Image ?? '',
    ImageID: inspect.Image ?? '',
    Command: [path, ...args.map(quoteArg)].filter((part) => part !== '').join(' '),
    Created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
    Ports: ports,
    Labels: inspect.Config?.Labels ?? {},
    State: inspect.State?.Status ?? '',
    Status: statusText(inspect.State ?? {}),
    HostConfig: { NetworkMode: inspect.HostConfig?.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: inspect.NetworkSettings?.Networks ?? {} },
    Mounts: Array.isArray(inspect.Mounts) ? inspect.Mounts : [],
  }
}

/** True when `value` is already a `/containers/json` row (what a Docker Engine lists). */
export function isDockerSummary(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.Id === 'string' &&
    Array.isArray(value.Names) &&
    typeof value.State === 'string' &&
    typeof value.Status === 'string' &&
    typeof value.Created === 'number'
  )
}

/**
 * A `/containers/json` row from one entry of an `Ls --long` answer (`name` plus the child's summary or
 * description), listed under that name; `key` orders rows newest first (ms since the epoch), and
 * `position` (the next stage's own order, when it gives one) breaks ties.
 */
export function toRow(entry: Json): { summary: Json; key: number; position: number } {
  const name = String(entry.name)
  const { name: _name, member: _member, position, ...rest } = entry
  const at = typeof position === 'number' ? position : Number.POSITIVE_INFINITY
  if (isDockerSummary(rest)) {
    return { summary: { ...rest, Names: [`/${name}`] }, key: Number(rest.Created) * 1000, position: at }
  }
  const inspect = toInspect(name, isDockerInspect(rest) ? { ...rest, Name: `/${name}` } : rest)
  const created = Date.parse(inspect.Created)
  return { summary: toSummary(inspect), key: Number.isNaN(created) ? 0 : created, position: at }
}

/** A Docker `/events` message from a WatchEvent (a Docker Engine's own event passes through). */
export function toDockerEvent(event: WatchEvent): Json {
  if (isObject(event.docker)) return event.docker
  const action = str(event.action, event.type) ?? 'change'
  const mapped =
    action === 'stop' ? 'die' : action === 'delete' ? 'destroy' : action === 'change' ? 'update' : action
  const id = str(event.id) ?? idFromName(event.name)
  const ms = event.time ? Date.parse(event.time) : Date.now()
  const attributes: Record<string, string> = { name: event.name }
  if (typeof event.image === 'string') attributes.image = event.image
  if (event.exitCode !== undefined) attributes.exitCode = String(event.exitCode)
  return {
    status: mapped,
    id,
    ...(attributes.image ? { from: attributes.image } : {}),
    Type: 'container',
    Action: mapped,
    Actor: { ID: id, Attributes: attributes },
    scope: 'local',
    time: Math.floor(ms / 1000),
    timeNano: ms * 1_000_000,
  }
}

/** The `/version` answer (a Docker Engine backend's own version, else libswarm's). */
export function versionBody(backend: unknown): Json {
  const version = isObject(backend) && isObject(backend.version) ? backend.version : undefined
  if (version) return { ...version, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION }
  return {
    Platform: { Name: 'libswarm' },
    Components: [{ Name: 'Engine', Version: '0.0.0-libswarm', Details: { ApiVersion: API_VERSION } }],
    Version: '0.0.0-libswarm',
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: 'libswarm',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    KernelVersion: '',
    BuildTime: '',
  }
}

/** The `/info` answer (a Docker Engine backend's own info, else one built from the children). */
export function infoBody(backend: unknown, containers: Json[]): Json {
  const info = isObject(backend) && isObject(backend.info) ? backend.info : undefined
  if (info) return info
  const count = (state: string) => containers.filter((c) => c.State === state).length
  return {
    ID: 'libswarm',
    Containers: containers.length,
    ContainersRunning: count('running'),
    ContainersPaused: count('paused'),
    ContainersStopped: containers.length - count('running') - count('paused'),
    Images: 0,
    Driver: 'libswarm',
    DriverStatus: [],
    Plugins: { Volume: [], Network: [], Authorization: null, Log: [] },
    MemoryLimit: false,
    SwapLimit: false,
    CpuCfsPeriod: false,
    CpuCfsQuota: false,
    CPUShares: false,
    CPUSet: false,
    PidsLimit: false,
    IPv4Forwarding: false,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'libswarm',
    CgroupDriver: 'none',
    CgroupVersion: '2',
    NEventsListener: 0,
    KernelVersion: '',
    OperatingSystem: 'libswarm',
    OSVersion: '',
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
    NCPU: 1,
    MemTotal: 0,
    Name: 'libswarm',
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: '0.0.0-libswarm',
    Runtimes: {},
    DefaultRuntime: 'libswarm',
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    SecurityOptions: [],
    Warnings: ['served by libswarm adapter-dockerserver'],
  }
}
