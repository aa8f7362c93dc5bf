import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { Duplex, type Readable, type Writable } from 'node:stream'
import {
  type Backend,
  ChannelClosedError,
  Client,
  InvalidArgumentError,
  isOwnRunState,
  type Message,
  notImplementedMessage,
  parseSpec,
  pipe,
  replyAndClose,
  replyError,
  type Service,
} from '@libswarm/core'

/** The commands the prompt understands, with their usage and what they do. */
export const COMMANDS: Record<string, { usage: string; help: string }> = {
  ls: { usage: 'ls', help: 'list the children of the current service (Ls)' },
  attach: {
    usage: 'attach NAME | attach ..',
    help: 'make child NAME the current service; ".." goes back to the top',
  },
  get: { usage: 'get [NAME]', help: 'describe the current service, or child NAME (Get)' },
  spawn: { usage: 'spawn ARGS...', help: 'create a child (Spawn ARGS)' },
  start: { usage: 'start [NAME]', help: 'start child NAME, or the current service (Start)' },
  stop: { usage: 'stop [NAME]', help: 'stop child NAME, or the current service (Stop)' },
  watch: {
    usage: 'watch [NAME]',
    help: 'print change events as they happen (Watch); Ctrl-C ends it on a terminal',
  },
  connect: {
    usage: 'connect [NAME]',
    help: 'open a byte stream to the service (Connect); lines you type go to it, "~." ends it',
  },
  help: { usage: 'help', help: 'show this list' },
  quit: { usage: 'quit', help: 'stop swarmd (also: exit, or end of input)' },
}

const ALIASES: Record<string, string> = { exit: 'quit', '?': 'help' }

/** The longest error message the prompt prints; the rest is elided. */
const MAX_ERROR_LENGTH = 1_000

/** How long one request waits for its answer. */
const REQUEST_TIMEOUT_MS = 30_000

/** What swarmd hands the cli backend: its terminal, and what to do when the user is done. */
export interface CliOptions {
  input: Readable & { isTTY?: boolean }
  output: Writable & { isTTY?: boolean }
  /** Prints an error line (swarmd's logger: `[cli] error: ...`, or JSON). */
  printError: (text: string) => void
  /** Called once when the prompt ends (quit, or end of input): swarmd stops the pipeline, exit 0. */
  onEnd: () => void
  /** Called on Ctrl-C at the prompt when nothing is running: swarmd treats it as SIGINT. */
  onInterrupt: () => void
  /** Where the interactive history is kept. Default: ~/.swarmd_history; empty string: nowhere. */
  historyFile?: string
}

/** The `cli` backend and the handle swarmd uses to run its prompt once the pipeline is started. */
export interface CliBackend {
  backend: Backend
  /** Runs the prompt of the spawned cli stage, if there is one. Resolves when the prompt ends. */
  run(): Promise<void>
  /** Ends the prompt (swarmd is stopping). */
  close(): void
}

/** Creates the built-in `cli` backend. */
export function createCliBackend(options: CliOptions): CliBackend {
  let spawned: { out: Service; signal: AbortSignal } | undefined
  let prompt: Prompt | undefined
  const backend: Backend = {
    name: 'cli',
    summary:
      'an interactive prompt that sends verbs to the next stage (reads commands from stdin when piped)',
    usage: 'cli',
    spawn(args, context) {
      if (args.length > 0) throw new InvalidArgumentError(`cli takes no arguments, got "${args.join(' ')}"`)
      if (spawned)
        throw new InvalidArgumentError('a pipeline can have only one cli stage (it owns the terminal)')
      spawned = { out: context.out, signal: context.signal }
      // As a stage, cli is transparent: what reaches it (from --listen) goes on to the next stage,
      // except a bare Start/Stop, which addresses cli itself (not implemented: the next stage gets
      // its own from the pipeline).
      const [incoming, service] = pipe<Message>()
      void (async () => {
        for await (const message of incoming) {
          if (isOwnRunState(message)) {
            await replyAndClose(message.ret, notImplementedMessage(message.verb)).catch(() => {})
            continue
          }
          try {
            await context.out.send(message)
          } catch (error) {
            await replyError(message.ret, error)
          }
        }
      })()
      return service
    },
  }
  return {
    backend,
    async run() {
      if (!spawned) return
      prompt = new Prompt(spawned.out, spawned.signal, options)
      await prompt.run()
    },
    close() {
      prompt?.close()
    },
  }
}

/** The prompt: reads command lines, sends verbs, prints the answers. Never throws on a bad line. */
class Prompt {
  private readonly rl: Interface
  private readonly tty: boolean
  /** The services `attach` walked into, from the top. */
  private readonly path: { name: string; client: Client }[] = []
  /** Names from the last `ls`, for tab completion. */
  private names: string[] = []
  /** Aborts the command in progress (Ctrl-C on a terminal). */
  private current: AbortController | undefined
  /** A `connect` in progress: lines go to its stream. */
  private connected: Duplex | Writable | undefined
  /** Watches running in the background, so they end with the prompt. */
  private readonly watches = new Set<AbortController>()
  private ended = false
  private closed = false
  private stopping = false
  private readonly historyFile: string

  private readonly root: Client

  constructor(
    root: Service,
    private readonly signal: AbortSignal,
    private readonly options: CliOptions,
  ) {
    this.root = new Client(root, { timeout: REQUEST_TIMEOUT_MS })
    this.tty = options.input.isTTY === true && options.output.isTTY === true
    this.historyFile = options.historyFile ?? join(homedir(), '.swarmd_history')
    this.rl = createInterface({
      input: options.input,
      output: this.tty ? options.output : undefined,
      terminal: this.tty,
      historySize: 500,
      history: this.tty ? this.loadHistory() : [],
      completer: this.tty ? (line: string) => this.complete(line) : undefined,
    })
    if (this.tty) {
      this.rl.on('SIGINT', () => {
        if (this.current) {
          this.current.abort(new Error('interrupted'))
        } else if (this.watches.size > 0) {
          for (const watch of this.watches) watch.abort()
          this.print('watch ended')
          this.rl.prompt()
        } else {
          this.rl.write('\n')
          options.onInterrupt()
        }
      })
      this.rl.on('history', (history: string[]) => this.saveHistory(history))
    }
    signal.addEventListener('abort', () => this.close(), { once: true })
  }

  async run(): Promise<void> {
    if (this.tty) {
      this.print('swarmd cli: type "help" for the commands, "quit" to stop.')
      this.setPrompt()
      this.rl.prompt()
    }
    try {
      for await (const line of this.rl) {
        await this.handle(line)
        if (this.ended) break
        if (this.tty) this.rl.prompt()
      }
    } finally {
      this.finish()
    }
  }

  /** Ends the prompt because swarmd is stopping (onEnd is not called). */
  close(): void {
    this.stopping = true
    this.shutdown()
  }

  private shutdown(): void {
    if (this.closed) return
    this.closed = true
    this.ended = true
    this.current?.abort(new Error('swarmd is stopping'))
    for (const watch of this.watches) watch.abort()
    this.connected?.end()
    this.connected = undefined
    this.rl.close()
  }

  /** The loop ended: by quit, end of input, or close(). */
  private finish(): void {
    this.shutdown()
    if (!this.stopping && !this.signal.aborted) this.options.onEnd()
  }

  private get target(): Client {
    return this.path.at(-1)?.client ?? this.root
  }

  private setPrompt(): void {
    this.rl.setPrompt(`swarmd${this.path.map((p) => `/${p.name}`).join('')}> `)
  }

  private print(text: string): void {
    this.options.output.write(text.endsWith('\n') ? text : text + '\n')
  }

  /** Prints an error, cut to {@link MAX_ERROR_LENGTH} characters (a 1 MB name is not echoed whole). */
  private printError(text: string): void {
    this.options.printError(
      text.length <= MAX_ERROR_LENGTH
        ? text
        : `${text.slice(0, MAX_ERROR_LENGTH)}... (${text.length - MAX_ERROR_LENGTH} more characters)`,
    )
  }

  /** Handles one line. Any failure becomes a printed message. */
  async handle(line: string): Promise<void> {
    if (this.connected) {
      if (line.trim() === '~.') {
        this.connected.end()
        this.connected = undefined
        this.print('connection closed')
      } else {
        this.connected.write(line + '\n')
      }
      return
    }
    let words: string[]
    try {
      words = parseSpec(line)
    } catch (error) {
      this.printError(`cannot read that line: ${(error as Error).message}`)
      return
    }
    const [first, ...args] = words
    if (first === undefined || first.startsWith('#')) return
    const name = ALIASES[first] ?? first
    const command = COMMANDS[name]
    if (!command) {
      this.printError(`unknown command "${first}"; type "help" for the list`)
      return
    }
    const controller = new AbortController()
    this.current = controller
    const signal = AbortSignal.any([controller.signal, this.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
    try {
      await this.dispatch(name, args, signal)
    } catch (error) {
      this.printError(describe(error, signal))
    } finally {
      this.current = undefined
    }
  }

  private async dispatch(name: string, args: string[], signal: AbortSignal): Promise<void> {
    const usage = () => {
      throw new InvalidArgumentError(`usage: ${COMMANDS[name]!.usage}`)
    }
    const call = { signal, timeout: REQUEST_TIMEOUT_MS }
    switch (name) {
      case 'help': {
        const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length))
        for (const c of Object.values(COMMANDS)) this.print(`  ${c.usage.padEnd(width)}  ${c.help}`)
        return
      }
      case 'quit':
        this.ended = true
        return
      case 'ls': {
        if (args.length > 0) usage()
        this.names = await this.target.ls(call)
        this.print(this.names.length === 0 ? '(no children)' : this.names.join('\n'))
        return
      }
      case 'attach': {
        if (args.length !== 1) usage()
        if (args[0] === '..') this.path.pop()
        else if (args[0] === '/') this.path.length = 0
        else this.path.push({ name: args[0]!, client: await this.child(args[0]!, signal) })
        this.setPrompt()
        this.print(`now at ${this.path.length === 0 ? 'the top' : this.path.map((p) => p.name).join('/')}`)
        return
      }
      case 'get': {
        if (args.length > 1) usage()
        const client = args[0] === undefined ? this.target : await this.child(args[0], signal)
        this.print(JSON.stringify(await client.get([], call), null, 2))
        return
      }
      case 'spawn': {
        if (args.length === 0) usage()
        await this.target.spawn(args, call)
        this.print(`spawned ${args.join(' ')}`)
        return
      }
      case 'start':
      case 'stop': {
        if (args.length > 1) usage()
        const client = args[0] === undefined ? this.target : await this.child(args[0], signal)
        if (name === 'start') await client.start([], call)
        else await client.stop([], call)
        this.print(`${name === 'start' ? 'started' : 'stopped'}${args[0] ? ` ${args[0]}` : ''}`)
        return
      }
      case 'watch': {
        if (args.length > 1) usage()
        const client = args[0] === undefined ? this.target : await this.child(args[0], signal)
        const watch = new AbortController()
        const watchSignal = AbortSignal.any([watch.signal, this.signal])
        const events = await client.watch([], { signal: watchSignal, timeout: REQUEST_TIMEOUT_MS })
        this.watches.add(watch)
        this.print(`watching; events print as they happen${this.tty ? ' (Ctrl-C ends it)' : ''}`)
        void (async () => {
          try {
            for await (const event of events) this.print(`event ${JSON.stringify(event)}`)
          } catch (error) {
            if (!watchSignal.aborted) this.printError(`watch: ${describe(error, watchSignal)}`)
          } finally {
            this.watches.delete(watch)
          }
        })()
        return
      }
      case 'connect': {
        if (args.length > 1) usage()
        const client = args[0] === undefined ? this.target : await this.child(args[0], signal)
        const stream = await client.connect([], call)
        if (!(stream instanceof Duplex))
          throw new Error('the service answered Connect without a two-way byte stream')
        stream.on('data', (chunk: Buffer) => this.options.output.write(chunk))
        stream.on('error', (error) => this.printError(`connection: ${error.message}`))
        stream.on('end', () => {
          if (this.connected === stream) {
            this.connected = undefined
            this.print('connection closed by the service')
            if (this.tty) this.rl.prompt()
          }
        })
        this.connected = stream
        this.print('connected; lines you type go to the service, "~." on its own line ends it')
        return
      }
    }
  }

  /** Attach NAME on the current service: the child, as a Client. */
  private async child(name: string, signal: AbortSignal): Promise<Client> {
    const { instance, output } = await this.target.attach(name, { signal, timeout: REQUEST_TIMEOUT_MS })
    // The rest of the Attach reply is the child's output; the prompt does not read it.
    output.cancel()
    return instance
  }

  private complete(line: string): [string[], string] {
    const words = line.split(/\s+/)
    if (words.length <= 1) {
      const names = [...Object.keys(COMMANDS), ...Object.keys(ALIASES)].filter((c) => c.startsWith(line))
      return [names.map((n) => `${n} `), line]
    }
    const command = words[0]!
    const last = words.at(-1)!
    if (['attach', 'get', 'start', 'stop', 'watch', 'connect'].includes(command) && words.length === 2) {
      return [this.names.filter((n) => n.startsWith(last)), last]
    }
    return [[], last]
  }

  private loadHistory(): string[] {
    if (!this.historyFile || !existsSync(this.historyFile)) return []
    try {
      return readFileSync(this.historyFile, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500)
    } catch {
      return []
    }
  }

  private saveHistory(history: string[]): void {
    if (!this.historyFile) return
    try {
      writeFileSync(this.historyFile, [...history].reverse().join('\n') + '\n')
    } catch {
      // No writable home: history stays in memory.
    }
  }
}

function describe(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason = signal.reason as Error | undefined
    if (reason?.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
    return reason?.message ?? 'interrupted'
  }
  if (error instanceof ChannelClosedError) return 'the service went away before answering'
  return error instanceof Error ? error.message : String(error)
}
