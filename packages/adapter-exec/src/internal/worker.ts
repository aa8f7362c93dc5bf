import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Duplex, type Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import {
  createSession,
  duplexLink,
  handler,
  InvalidArgumentError,
  type Link,
  type Message,
  notImplemented,
  pipe,
  replyError,
  type Service,
  type Session,
  TimeoutError,
  UnavailableError,
} from '@libswarm/core'
import { spawnError } from './command.ts'
import { type IpcChannel, ipcLink } from './ipc-link.ts'
import { installExitHook, killGroup, live } from './proc.ts'

/** The environment variable that tells a child how its parent reaches it: `stdio` or `ipc`. */
export const MODE_ENV = 'LIBSWARM_EXEC'

/** Options of {@link spawnWorker}. */
export interface WorkerOptions {
  /** The instance's name (in messages). */
  name: string
  /** The executable (resolved). */
  command: string
  args: string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Use Node's IPC channel instead of stdin/stdout. Default: false. */
  ipc?: boolean
  /** Milliseconds between SIGTERM and SIGKILL when the worker is stopped. Default: 5000. */
  grace?: number
  /** How long the worker has to offer its service, in ms. Default: 10 000. */
  handshakeTimeout?: number
  /**
   * The worker's `out`: sent to it at start (so it can Log and forward), and where its stderr (and,
   * in IPC mode, stdout) lines go as `Log`, and a crash as `Error`. Default: implements nothing.
   */
  out?: Service
  /** Stops the worker when it fires. */
  signal?: AbortSignal
}

/** A running libswarm-speaking child. */
export interface Worker {
  /** Its service, as seen through the session (failures after it died answer `Error`). */
  service: Service
  /** Its process id. */
  pid: number
  /** Resolves with how it ended: `{ code, signal }`. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Closes the session, then SIGTERM, then SIGKILL after the grace period. Resolves once it has exited. */
  stop(): Promise<void>
}

/**
 * Runs a command that speaks libswarm (it calls {@link serveParent}) and returns its service: the
 * child gets a session over its stdin/stdout (or Node's IPC channel), receives `out` on it, and
 * offers its service back.
 */
export async function spawnWorker(options: WorkerOptions): Promise<Worker> {
  const { name, command, args, ipc = false } = options
  const out = options.out ?? notImplemented
  installExitHook()
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), [MODE_ENV]: ipc ? 'ipc' : 'stdio' },
      shell: false,
      detached: true,
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['pipe', 'pipe', 'pipe'],
      serialization: ipc ? 'advanced' : 'json',
      windowsHide: true,
    })
  } catch (error) {
    // Thrown at once for arguments Node refuses (a NUL byte in an argument, ...).
    throw new InvalidArgumentError(
      `[adapter-exec] cannot run ${JSON.stringify(command)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) reject(spawnError(command, error))
    })
    child.once('spawn', resolve)
  })
  live.add(child)
  const pid = child.pid!
  let stopping = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    }),
  )
  const describeExit = ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) =>
    signal ? `was killed by ${signal}` : `exited with code ${code}`
  const notOffered = (how: { code: number | null; signal: NodeJS.Signals | null }) =>
    new UnavailableError(
      `[adapter-exec] ${name} (pid ${pid}) ${describeExit(how)} before it offered a service; a --libswarm command must call serveParent() from @libswarm/adapter-exec`,
    )
  const logs = new LineForwarder(out)
  logs.read(child.stderr)
  if (ipc) logs.read(child.stdout)

  // Once the child has exited, its session ends saying how, and so does every call still waiting.
  let session: Session | undefined
  let death: string | undefined
  const died = exited.then((how) => {
    death = `[adapter-exec] ${name} (pid ${pid}) ${describeExit(how)}`
    session?.abort(new UnavailableError(death))
    return death
  })
  const peer = { transport: 'exec', address: `${name} (pid ${pid})` }
  const link = untilExited(
    ipc
      ? ipcLink(child as unknown as IpcChannel, peer)
      : duplexLink(Duplex.from({ readable: child.stdout!, writable: child.stdin! }), peer),
    died,
    pid,
  )
  child.stdin?.on('error', () => {})

  const timeout = options.handshakeTimeout ?? 10_000
  const handshake = AbortSignal.timeout(timeout)
  const stop = async (): Promise<void> => {
    stopping = true
    if (session) {
      await Promise.race([session.close().catch(() => {}), exited, delay(1000)])
      session.abort()
    }
    if (child.exitCode !== null || child.signalCode !== null) return
    killGroup(child, 'SIGTERM')
    const grace = delay(options.grace ?? 5000)
    if ((await Promise.race([exited.then(() => 'exited'), grace])) !== 'exited') killGroup(child, 'SIGKILL')
    await exited
  }
  let remote: Service
  try {
    remote = await Promise.race([
      (async () => {
        session = await createSession(link, { role: 'client', signal: handshake })
        const carrier = session.open<Service>()
        // The child gets a stand-in for `out`: the session may close what it carried when it ends,
        // and `out` (the next stage) must outlive this child.
        await carrier.send(forwarder(out), { signal: handshake })
        const incoming = await session.accept<Service>({ signal: handshake })
        return incoming.receive({ signal: handshake })
      })(),
      exited.then((how) => {
        throw notOffered(how)
      }),
    ])
  } catch (error) {
    // The link usually breaks just before the exit is reported: prefer saying how the child ended.
    const how = await Promise.race([exited, delay(1000).then(() => undefined)])
    await stop()
    if (how) throw notOffered(how)
    if (handshake.aborted) {
      throw new TimeoutError(
        `[adapter-exec] ${name} (pid ${pid}) did not offer a service within ${timeout} ms; a --libswarm command must call serveParent() from @libswarm/adapter-exec`,
        { cause: error },
      )
    }
    throw error
  }

  void died.then((message) => {
    if (!stopping) void out.send({ verb: 'Error', args: [message, 'EXITED'] }).catch(() => {})
  })
  const service = handler(async (message: Message) => {
    if (death !== undefined) return replyError(message.ret, new UnavailableError(`${death}; spawn it again`))
    try {
      await remote.send(message)
    } catch (error) {
      await replyError(
        message.ret,
        new UnavailableError(death ?? `[adapter-exec] ${name} (pid ${pid}) is unreachable`, { cause: error }),
      )
    }
  })
  options.signal?.addEventListener('abort', () => void stop().finally(() => service.close()), { once: true })
  return { service, pid, exited, stop }
}

/**
 * `link`, with its end and failure held back until `died` has settled (the child exited and its
 * session was ended with how). A dying child's pipes close a moment before its exit is reported:
 * without this, every pending call would say "the connection was closed" instead of "was killed by
 * SIGKILL". Once the child is a zombie its exit report is certain, so that is awaited however late
 * a loaded machine delivers it; a child still running with its pipes closed is waited for at most
 * `wait` ms.
 */
function untilExited(link: Link, died: Promise<unknown>, pid: number, wait = 1000): Link {
  let exited = false
  void died.then(() => {
    exited = true
  })
  // Started by the first end, error or close of the link, not before: the wait is for the exit
  // report that follows the pipes' closing.
  let settled: Promise<void> | undefined
  const untilReported = async () => {
    const until = Date.now() + wait
    while (!exited) {
      if (isZombie(pid)) return void (await died)
      if (Date.now() >= until) return
      await delay(10)
    }
  }
  return {
    peer: link.peer,
    canPassFds: link.canPassFds,
    start(handlers) {
      const later = (report: () => void) => {
        settled ??= untilReported()
        void settled.then(report)
      }
      link.start({
        data: (chunk, fds) => handlers.data(chunk, fds),
        drain: () => handlers.drain(),
        end: () => later(() => handlers.end()),
        error: (error) => later(() => handlers.error(error)),
        close: () => later(() => handlers.close()),
      })
    },
    write: (chunk, fds) => link.write(chunk, fds),
    writev: link.writev ? (chunks) => link.writev!(chunks) : undefined,
    end: () => link.end(),
    destroy: (error) => link.destroy(error),
    pause: link.pause ? () => link.pause!() : undefined,
    resume: link.resume ? () => link.resume!() : undefined,
  }
}

/** Whether `pid` has died and waits to be reaped (Linux's /proc); false where that cannot be told. */
function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

/** A service that passes every message on to `target`; closing it leaves `target` open. */
function forwarder(target: Service): Service {
  const [messages, service] = pipe<Message>({ highWaterMark: 16 })
  void (async () => {
    for await (const message of messages) {
      try {
        await target.send(message)
      } catch (error) {
        await replyError(
          message.ret,
          new UnavailableError('[adapter-exec] the next stage is gone', { cause: error }),
        )
      }
    }
  })().catch(() => {})
  return service
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.())
}

/** Sends each line of some streams to `out` as `Log [line]`, in order, one at a time. */
class LineForwarder {
  private chain: Promise<unknown> = Promise.resolve()
  constructor(private readonly out: Service) {}

  read(stream: Readable | null | undefined): void {
    if (!stream) return
    const decoder = new StringDecoder('utf8')
    let partial = ''
    stream.on('data', (chunk: Buffer) => {
      partial += decoder.write(chunk)
      const lines = partial.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) this.line(line.replace(/\r$/, ''))
    })
    stream.once('end', () => {
      partial += decoder.end()
      if (partial) this.line(partial)
    })
    stream.on('error', () => {})
  }

  private line(line: string): void {
    this.chain = this.chain.then(() => this.out.send({ verb: 'Log', args: [line] })).catch(() => {})
  }
}

/** What {@link serveParent} gives the child. */
export interface ParentConnection {
  /** The parent pipeline's `out` for this stage: send Log and Error messages there, forward what you do not handle. */
  out: Service
  /** The session to the parent. */
  session: Session
  /** Resolves when the parent has gone (the session ended). */
  closed: Promise<Error | undefined>
}

/**
 * Called in a child started by `exec --libswarm`: opens the session to the parent over this
 * process's stdin/stdout (or its IPC channel with `--ipc`), receives the stage's `out`, and offers
 * `service` (or what `service(out)` returns) to the parent. In stdio mode stdout belongs to the
 * session: `console.log` and friends are sent to stderr (which the parent forwards as `Log`).
 *
 * @example
 * // worker.ts, run as: swarmd 'exec --libswarm node worker.js'
 * import { Server } from '@libswarm/core'
 * import { serveParent } from '@libswarm/adapter-exec'
 * await serveParent(new Server({ onGet: () => ({ pid: process.pid }) }))
 */
export async function serveParent(
  service: Service | ((out: Service) => Service | Promise<Service>),
  options: { signal?: AbortSignal } = {},
): Promise<ParentConnection> {
  const mode = process.env[MODE_ENV]
  let link: Link
  const peer = { transport: 'exec', address: 'parent' }
  if (mode === 'ipc') {
    if (!process.send) {
      throw new InvalidArgumentError(
        `[adapter-exec] serveParent: ${MODE_ENV}=ipc but this process has no IPC channel; start it with exec --libswarm --ipc`,
      )
    }
    link = ipcLink(process as unknown as IpcChannel, peer)
  } else if (mode === 'stdio') {
    const toStderr = (...args: unknown[]) => console.error(...args)
    console.log = toStderr
    console.info = toStderr
    console.debug = toStderr
    link = duplexLink(Duplex.from({ readable: process.stdin, writable: process.stdout }), peer)
  } else {
    throw new InvalidArgumentError(
      `[adapter-exec] serveParent: this process was not started by exec --libswarm (${MODE_ENV} is ${mode === undefined ? 'not set' : JSON.stringify(mode)})`,
    )
  }
  const session = await createSession(link, { role: 'server', signal: options.signal })
  const carrier = await session.accept<Service>({ signal: options.signal })
  const out = await carrier.receive({ signal: options.signal })
  const offered = typeof service === 'function' ? await service(out) : service
  await session.open<Service>().send(offered, { signal: options.signal })
  return { out, session, closed: session.closed }
}
