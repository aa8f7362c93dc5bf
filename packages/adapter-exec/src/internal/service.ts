import {
  type Backend,
  type BackendContext,
  InvalidArgumentError,
  type Message,
  notImplemented,
  Server,
  type Service,
} from '@libswarm/core'
import { type ExecArgs, parseExecArgs, USAGE } from './args.ts'
import { checkCwd, resolveCommand } from './command.ts'
import { Proc } from './proc.ts'
import { spawnWorker } from './worker.ts'

/** Options of {@link execService}. */
export interface ExecOptions {
  /** The command: an executable name (looked up in PATH) or a path. Never run through a shell. */
  command: string
  /** Its arguments. Default: none. */
  args?: string[]
  /** The instance's name (in Get and Watch events). Default: the command's base name. */
  name?: string
  /** Working directory. Default: the current one. */
  cwd?: string
  /** Environment. Default: this process's. */
  env?: NodeJS.ProcessEnv
  /** Milliseconds between SIGTERM and SIGKILL on Stop. Default: 5000. */
  grace?: number
  /**
   * Where the command's stdout/stderr lines go as `Log [line]`, where a crash is reported as
   * `Error [text, "EXITED"]`, and where verbs it does not answer are forwarded (a pipeline's next
   * stage). Default: a service that implements nothing (lines are dropped).
   */
  out?: Service
  /** Stops the command (and ends the service) when it fires. */
  signal?: AbortSignal
}

/** A command as a service, and the process model behind it. */
export interface ExecInstance {
  service: Service
  proc: Proc
}

function noArgs(verb: string, args: readonly string[]): void {
  if (args.length > 0) {
    throw new InvalidArgumentError(`[adapter-exec] ${verb} takes no arguments, got ${JSON.stringify(args)}`)
  }
}

/**
 * A local command as a service (fork-exec, never a shell). It answers `Start` (runs it; Conflict if
 * it runs already), `Stop` (SIGTERM to its process group, SIGKILL after `grace`), `Get` (a
 * {@link ProcInfo}), `Watch` (`start` and `stop` events), `Connect` (its stdio as a byte stream)
 * and `Ls` (no children). Throws NotFoundError / UnauthorizedError at once for a command that
 * cannot be found or run.
 */
export function execService(options: ExecOptions): ExecInstance {
  checkCwd(options.cwd)
  const command = resolveCommand(options.command, options.cwd, options.env)
  const out = options.out ?? notImplemented
  const proc = new Proc({
    name: options.name ?? options.command.split('/').pop() ?? options.command,
    command,
    args: options.args ?? [],
    cwd: options.cwd,
    env: options.env,
    grace: options.grace,
    log: (message: Message) => out.send(message),
    crashed: (message: Message) => void out.send(message).catch(() => {}),
  })
  const service = new Server(
    {
      onStart: (args) => {
        noArgs('Start', args)
        return proc.start()
      },
      onStop: (args) => {
        noArgs('Stop', args)
        return proc.stop()
      },
      onGet: (args) => {
        noArgs('Get', args)
        return proc.info()
      },
      onWatch: (_args, context) => proc.watch(context.signal),
      onConnect: () => proc.connect(),
      onLs: () => [],
    },
    { fallback: options.out },
  )
  options.signal?.addEventListener(
    'abort',
    () => {
      void proc.dispose().finally(() => service.close())
    },
    { once: true },
  )
  return { service, proc }
}

/** Builds the instance for parsed backend arguments. */
export async function fromArgs(parsed: ExecArgs, context: BackendContext): Promise<Service> {
  if (parsed.libswarm) {
    checkCwd(parsed.cwd)
    const worker = await spawnWorker({
      name: parsed.name,
      command: resolveCommand(parsed.command, parsed.cwd),
      args: parsed.args,
      cwd: parsed.cwd,
      ipc: parsed.ipc,
      grace: parsed.grace,
      out: context.out,
      signal: context.signal,
    })
    void worker.exited.then(({ code, signal }) => {
      if (!context.signal.aborted) {
        context.log(
          `[adapter-exec] ${parsed.name} (pid ${worker.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`,
        )
      }
    })
    return worker.service
  }
  const { service, proc } = execService({
    command: parsed.command,
    args: parsed.args,
    name: parsed.name,
    cwd: parsed.cwd,
    grace: parsed.grace,
    out: context.out,
    signal: context.signal,
  })
  const crashed = proc.options.crashed
  proc.options.crashed = (message) => {
    context.log(message.args[0] ?? 'crashed')
    crashed?.(message)
  }
  return service
}

/** The `exec` backend: runs a local command as a service (fork-exec). */
export const backend: Backend = {
  name: 'exec',
  summary:
    'run a local command as a service (fork-exec): start, stop, logs, state, stdio; or a libswarm worker',
  usage: USAGE,
  capabilities: {
    verbs: ['Connect', 'Get', 'Ls', 'Start', 'Stop', 'Watch'],
    watch: true,
    connect: true,
    spawn: false,
    startStop: true,
  },
  spawn(args: string[], context: BackendContext): Promise<Service> {
    return fromArgs(parseExecArgs(args), context)
  },
}
