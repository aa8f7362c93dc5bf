import { type ChildProcess, spawn } from 'node:child_process'
import { Duplex, type Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import {
  ConflictError,
  InvalidArgumentError,
  type Message,
  type Receiver,
  UnavailableError,
  type WatchEvent,
  WatchHub,
} from '@libswarm/core'
import { spawnError } from './command.ts'

/** Run state of a command. */
export type ProcState = 'created' | 'running' | 'exited'

/** What Get answers. Times are ISO 8601; `null` when it has not happened. */
export interface ProcInfo {
  /** The instance's name (the command's base name unless `--name` was given). */
  name: string
  /** The resolved executable. */
  command: string
  /** Its arguments (argv[1...]). */
  args: string[]
  state: ProcState
  /** The process id while running (and of the last run after it), `null` before the first start. */
  pid: number | null
  /** Exit code of the last run, `null` while running, before the first run, or when a signal ended it. */
  exitCode: number | null
  /** The signal that ended the last run (`SIGTERM`, ...), else `null`. */
  signal: string | null
  /** Whether the last run ended because Stop asked it to. */
  stopped: boolean
  startedAt: string | null
  finishedAt: string | null
  /** How many times it was started. */
  starts: number
}

/** Options of {@link Proc}. */
export interface ProcOptions {
  /** The instance's name. */
  name: string
  /** The executable (resolved). */
  command: string
  args: string[]
  /** Working directory. Default: the current one. */
  cwd?: string
  /** Environment. Default: this process's. */
  env?: NodeJS.ProcessEnv
  /** Milliseconds between SIGTERM and SIGKILL on Stop. Default: 5000. */
  grace?: number
  /** Where each stdout/stderr line goes as `Log [line]` (awaited: a slow consumer pauses the child's output). */
  log(message: Message): Promise<void>
  /** Told when the process crashes (non-zero exit or a signal that Stop did not send). */
  crashed?(message: Message): void
}

/** Lines queued for `log` before the child's output is paused. */
const LOG_HIGH_WATER = 256
/** A line longer than this is cut into pieces. */
const MAX_LINE = 64 * 1024

/** Children still running; killed (their whole group) if this process exits first. */
export const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** Kills every process group still running when this process exits, so nothing is left behind. */
export function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL')
  })
}

/** Sends `signal` to the child's process group (it leads one: it was spawned detached). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // Already gone.
    }
  }
}

/**
 * One local command, run with fork-exec (an argv array, never a shell) in its own process group so
 * that Stop reaches everything it started. Node reaps it when it exits, so no zombie stays.
 */
export class Proc {
  readonly options: ProcOptions
  state: ProcState = 'created'
  private child: ChildProcess | undefined
  private pid: number | null = null
  private exitCode: number | null = null
  private signal: string | null = null
  private stopping = false
  private stopped = false
  private startedAt: number | null = null
  private finishedAt: number | null = null
  private starts = 0
  private exited: Promise<void> = Promise.resolve()
  private readonly watchers = new WatchHub()
  private readonly streams = new Set<Duplex>()
  private readonly logQueue: string[] = []
  private logging = false
  private paused: Readable[] = []

  constructor(options: ProcOptions) {
    this.options = options
  }

  info(): ProcInfo {
    return {
      name: this.options.name,
      command: this.options.command,
      args: [...this.options.args],
      state: this.state,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
      stopped: this.stopped,
      startedAt: this.startedAt === null ? null : new Date(this.startedAt).toISOString(),
      finishedAt: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString(),
      starts: this.starts,
    }
  }

  /** Runs the command. Resolves once it is running; rejects with a clear error if it cannot be run. */
  start(): Promise<void> {
    if (this.state === 'running') {
      return Promise.reject(
        new ConflictError(
          `[adapter-exec] ${this.options.name} is already running (pid ${this.pid}); Stop it first`,
        ),
      )
    }
    installExitHook()
    const { command, args, cwd, env } = this.options
    let child: ChildProcess
    try {
      child = spawn(command, args, {
        cwd,
        env,
        shell: false,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      })
    } catch (error) {
      // Thrown at once for arguments Node refuses (a NUL byte in an argument, ...).
      return Promise.reject(
        new InvalidArgumentError(
          `[adapter-exec] cannot run ${JSON.stringify(command)}: ${(error as Error).message}`,
          {
            cause: error,
          },
        ),
      )
    }
    this.child = child
    this.state = 'running'
    this.stopping = false
    this.stopped = false
    return new Promise<void>((resolve, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (child.pid !== undefined) return // a later error (kill failed): exit still comes
        this.child = undefined
        this.state = this.starts > 0 ? 'exited' : 'created'
        reject(spawnError(command, error))
      })
      child.once('spawn', () => {
        live.add(child)
        this.starts++
        this.pid = child.pid ?? null
        this.exitCode = null
        this.signal = null
        this.startedAt = Date.now()
        this.finishedAt = null
        this.exited = new Promise<void>((done) => child.once('exit', () => done()))
        child.once('exit', (code, signal) => this.onExit(child, code, signal))
        child.once('close', () => {
          for (const stream of this.streams) stream.push(null)
          this.streams.clear()
        })
        child.stdin?.on('error', () => {}) // EPIPE when it exits before reading: not our failure
        for (const stream of [child.stdout, child.stderr]) if (stream) this.readLines(stream)
        this.emit({ type: 'start', name: this.options.name, state: 'running', pid: this.pid })
        resolve()
      })
    })
  }

  /**
   * Stops it: SIGTERM to its process group, then SIGKILL after the grace period. Resolves once it has
   * exited (and been reaped). Stopping something that is not running does nothing.
   */
  async stop(): Promise<void> {
    const child = this.child
    if (!child || this.state !== 'running') return
    this.stopping = true
    killGroup(child, 'SIGTERM')
    const grace = this.options.grace ?? 5000
    let timer: ReturnType<typeof setTimeout> | undefined
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killGroup(child, 'SIGKILL')
        resolve()
      }, grace)
    })
    await Promise.race([this.exited, killed])
    clearTimeout(timer)
    await this.exited
  }

  /** A byte stream to its stdio: what you write goes to stdin, stdout and stderr come back. */
  connect(): Duplex {
    const child = this.child
    if (!child || this.state !== 'running') {
      throw new UnavailableError(
        `[adapter-exec] ${this.options.name} is not running; Start it before Connect`,
      )
    }
    const stdin = child.stdin
    const stream: Duplex = new Duplex({
      write(chunk, _encoding, callback) {
        if (!stdin || stdin.destroyed) return callback()
        stdin.write(chunk, () => callback())
      },
      final(callback) {
        stdin?.end()
        callback()
      },
      read: () => this.resume(),
    })
    stream.on('error', () => {})
    this.streams.add(stream)
    stream.once('close', () => this.streams.delete(stream))
    return stream
  }

  /** Change events from now on (`start`, `stop`), until `signal` fires or the receiver is cancelled. */
  watch(signal?: AbortSignal): Receiver<WatchEvent> {
    return this.watchers.subscribe(signal)
  }

  /** Ends the watchers and kills what still runs (the pipeline is going away). */
  async dispose(): Promise<void> {
    await this.stop()
    this.watchers.close()
  }

  private emit(event: WatchEvent): void {
    this.watchers.publish({ ...event, time: new Date().toISOString() })
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    live.delete(child)
    if (this.child === child) this.child = undefined
    this.state = 'exited'
    this.exitCode = code
    this.signal = signal
    this.stopped = this.stopping
    this.finishedAt = Date.now()
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
    this.emit({
      type: 'stop',
      name: this.options.name,
      state: 'exited',
      pid: this.pid,
      exitCode: code,
      signal,
      stopped: this.stopping,
    })
    if (!this.stopping && (signal !== null || code !== 0)) {
      this.options.crashed?.({
        verb: 'Error',
        args: [`[adapter-exec] ${this.options.name} (pid ${this.pid}) ${how}`, 'EXITED'],
      })
    }
  }

  private readLines(stream: Readable): void {
    let partial = ''
    const decoder = new StringDecoder('utf8')
    stream.on('data', (chunk: Buffer) => {
      for (const duplex of this.streams) if (!duplex.push(chunk)) this.pause(stream)
      partial += decoder.write(chunk)
      let newline = partial.indexOf('\n')
      while (newline >= 0) {
        this.queueLine(partial.slice(0, newline).replace(/\r$/, ''))
        partial = partial.slice(newline + 1)
        newline = partial.indexOf('\n')
      }
      while (partial.length > MAX_LINE) {
        this.queueLine(partial.slice(0, MAX_LINE))
        partial = partial.slice(MAX_LINE)
      }
      if (this.logQueue.length >= LOG_HIGH_WATER) this.pause(stream)
    })
    stream.once('end', () => {
      partial += decoder.end()
      if (partial) this.queueLine(partial)
      partial = ''
    })
    stream.on('error', () => {})
  }

  private pause(stream: Readable): void {
    if (this.paused.includes(stream)) return
    stream.pause()
    this.paused.push(stream)
  }

  private resume(): void {
    if (this.logQueue.length >= LOG_HIGH_WATER) return
    const paused = this.paused
    this.paused = []
    for (const stream of paused) stream.resume()
  }

  private queueLine(line: string): void {
    this.logQueue.push(line)
    if (!this.logging) void this.drainLog()
  }

  private async drainLog(): Promise<void> {
    this.logging = true
    try {
      while (this.logQueue.length > 0) {
        const line = this.logQueue.shift() as string
        try {
          await this.options.log({ verb: 'Log', args: [line] })
        } catch {
          // Nobody takes the log any more: drop it rather than stall the child.
        }
        if (this.logQueue.length < LOG_HIGH_WATER / 2) this.resume()
      }
    } finally {
      this.logging = false
    }
  }
}
