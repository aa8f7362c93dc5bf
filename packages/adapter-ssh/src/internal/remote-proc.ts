import { Duplex } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { ConflictError, type Message, type Receiver, type WatchEvent, WatchHub } from '@libswarm/core'
import type { ClientChannel } from 'ssh2'
import type { SshConnection } from './connection.ts'
import { commandLine } from './quote.ts'

/** The run state of a remote command. */
export type RemoteState = 'created' | 'running' | 'exited'

/** What Get answers for a remote command. Times are ISO 8601, `null` when it has not happened. */
export interface RemoteInfo {
  name: string
  host: string
  command: string
  args: string[]
  state: RemoteState
  /** The remote process id while running (and of the last run after it). */
  pid: number | null
  exitCode: number | null
  /** The signal that ended the last run (`SIGTERM`, `SIGKILL`, ...). */
  signal: string | null
  /** Whether the last run ended because Stop asked it to. */
  stopped: boolean
  startedAt: string | null
  finishedAt: string | null
  starts: number
}

/** Options of {@link RemoteProc}. */
export interface RemoteProcOptions {
  name: string
  command: string
  args: string[]
  /** Milliseconds between TERM and KILL on Stop. Default: 5000. */
  grace?: number
  /** Receives each output line as `Log [line]` (stdout and stderr); awaited, so a slow reader slows the command. */
  log: (message: Message) => Promise<void>
  /** Receives an `Error` when the command fails by itself (non-zero exit or a signal, not after Stop). */
  crashed?: (message: Message) => void
}

/**
 * A command run on the SSH server. The remote line is `echo $$; exec 'cmd' 'arg'...`: the shell
 * reports its PID and then becomes the command, so Stop can signal exactly that process (`kill`
 * through a second channel: OpenSSH ignores signal requests on sessions without a terminal).
 * Needs a POSIX login shell on the server.
 */
export class RemoteProc {
  state: RemoteState = 'created'
  pid: number | null = null
  exitCode: number | null = null
  signal: string | null = null
  stopped = false
  startedAt: number | null = null
  finishedAt: number | null = null
  starts = 0
  #channel: ClientChannel | undefined
  #stopping = false
  readonly #streams = new Set<Duplex>()
  #exited: Promise<void> = Promise.resolve()
  readonly #hub = new WatchHub()

  constructor(
    readonly connection: SshConnection,
    readonly options: RemoteProcOptions,
  ) {}

  info(): RemoteInfo {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString())
    return {
      name: this.options.name,
      host: this.connection.where,
      command: this.options.command,
      args: this.options.args,
      state: this.state,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
      stopped: this.stopped,
      startedAt: iso(this.startedAt),
      finishedAt: iso(this.finishedAt),
      starts: this.starts,
    }
  }

  watch(signal?: AbortSignal): Receiver<WatchEvent> {
    return this.#hub.subscribe(signal)
  }

  /** Runs the command; resolves once it runs remotely (its PID is known). Conflict if it runs already. */
  async start(): Promise<void> {
    if (this.state === 'running') {
      throw new ConflictError(
        `[adapter-ssh] ${this.options.name} is already running (pid ${this.pid}); Stop it first`,
      )
    }
    this.state = 'running'
    this.#stopping = false
    let channel: ClientChannel
    try {
      channel = await this.connection.exec(
        `echo $$; exec ${commandLine(this.options.command, this.options.args)}`,
      )
    } catch (error) {
      this.state = this.starts === 0 ? 'created' : 'exited'
      throw error
    }
    this.#channel = channel
    this.starts++
    this.startedAt = Date.now()
    this.finishedAt = null
    this.exitCode = null
    this.signal = null
    let gotPid!: () => void
    const pidKnown = new Promise<void>((resolve) => (gotPid = resolve))
    let first = true
    this.#lines(channel, (line) => {
      if (first) {
        first = false
        this.pid = Number(line)
        gotPid()
        return undefined
      }
      return this.options.log({ verb: 'Log', args: [line] })
    })
    this.#lines(channel.stderr, (line) => this.options.log({ verb: 'Log', args: [line] }))
    let code: number | null = null
    let signal: string | null = null
    channel.on('exit', (c: number | null, s?: string) => {
      code = c ?? null
      signal = s ?? null
    })
    this.#exited = new Promise<void>((resolve) =>
      channel.on('close', () => {
        gotPid()
        this.#onExit(channel, code, signal)
        resolve()
      }),
    )
    // Connect's streams get the raw output after the PID line, and write to the command's stdin.
    let skipping = true
    channel.on('data', (chunk: Buffer) => {
      if (skipping) {
        const newline = chunk.indexOf(10)
        if (newline < 0) return
        skipping = false
        chunk = chunk.subarray(newline + 1)
        if (chunk.length === 0) return
      }
      for (const stream of this.#streams) stream.push(chunk)
    })
    await pidKnown
    this.#hub.publish({ type: 'start', name: this.options.name, state: 'running', pid: this.pid })
  }

  #lines(stream: NodeJS.ReadableStream, onLine: (line: string) => Promise<void> | undefined): void {
    const decoder = new StringDecoder('utf8')
    let partial = ''
    let pending: Promise<void> = Promise.resolve()
    const emit = (line: string) => {
      const sent = onLine(line)
      if (sent) {
        stream.pause()
        pending = pending.then(() => sent.catch(() => {})).then(() => void stream.resume())
      }
    }
    stream.on('data', (chunk: Buffer) => {
      partial += decoder.write(chunk)
      let newline = partial.indexOf('\n')
      while (newline >= 0) {
        emit(partial.slice(0, newline).replace(/\r$/, ''))
        partial = partial.slice(newline + 1)
        newline = partial.indexOf('\n')
      }
    })
    stream.on('end', () => {
      partial += decoder.end()
      if (partial !== '') emit(partial)
    })
  }

  #onExit(channel: ClientChannel, code: number | null, signal: string | null): void {
    if (this.#channel !== channel) return
    this.#channel = undefined
    for (const stream of this.#streams) stream.push(null)
    this.#streams.clear()
    this.state = 'exited'
    this.exitCode = code
    this.signal = signal
    this.stopped = this.#stopping
    this.finishedAt = Date.now()
    this.#hub.publish({
      type: 'stop',
      name: this.options.name,
      state: 'exited',
      pid: this.pid,
      exitCode: code,
      signal,
      stopped: this.stopped,
    })
    if (!this.stopped && (signal !== null || code !== 0)) {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
      this.options.crashed?.({
        verb: 'Error',
        args: [
          `[adapter-ssh] ${this.options.name} on ${this.connection.where} (pid ${this.pid}) ${how}`,
          'EXITED',
        ],
      })
    }
  }

  /**
   * A byte stream to the running command: what it writes to stdout from now on, and what is written
   * goes to its stdin (ending the stream closes its stdin). Conflict unless it runs.
   */
  connect(): Duplex {
    const channel = this.#channel
    if (this.state !== 'running' || !channel) {
      throw new ConflictError(`[adapter-ssh] ${this.options.name} is not running; Start it first`)
    }
    const streams = this.#streams
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        channel.write(chunk, callback)
      },
      final(callback) {
        channel.end()
        callback()
      },
      destroy(error, callback) {
        streams.delete(stream)
        callback(error)
      },
    })
    streams.add(stream)
    return stream
  }

  /** Sends TERM, then KILL after the grace period; resolves once it has exited. No-op unless running. */
  async stop(): Promise<void> {
    const channel = this.#channel
    if (this.state !== 'running' || !channel || this.pid === null) return
    this.#stopping = true
    const exited = this.#exited
    await this.#kill('TERM')
    const grace = this.options.grace ?? 5000
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), grace)))
    const outcome = await Promise.race([exited.then(() => 'done' as const), late])
    clearTimeout(timer)
    if (outcome === 'late') {
      await this.#kill('KILL')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      channel.close()
    }
  }

  async #kill(signal: 'TERM' | 'KILL'): Promise<void> {
    try {
      const killer = await this.connection.exec(`kill -${signal} ${this.pid}`)
      killer.resume()
      killer.stderr.resume()
      await new Promise<void>((resolve) => killer.on('close', () => resolve()))
    } catch {
      // The connection is gone; so is the process's channel.
      this.#channel?.close()
    }
  }

  /** Stops the command and ends the watchers. */
  async dispose(): Promise<void> {
    await this.stop()
    this.#hub.close()
  }
}
