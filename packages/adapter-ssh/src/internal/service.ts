import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import {
  type BackendContext,
  ConflictError,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  NotImplementedError,
  Server,
  type Service,
  WatchHub,
} from '@libswarm/core'
import { numberOption, parseArgs } from './args.ts'
import { SshConnection, type SshOptions } from './connection.ts'
import { fileContent } from './file.ts'
import { commandLine } from './quote.ts'
import { type RemoteSwarmd, remoteSwarmd } from './remote.ts'
import { RemoteProc } from './remote-proc.ts'

/** The backend's usage line. */
export const USAGE =
  'ssh [USER@]HOST[:PORT] [--identity=FILE] [--agent=SOCKET] [--no-agent] [--known-hosts=FILE] [--accept-new-host-key] [--password-env=VAR] [--passphrase-env=VAR] [--timeout=MS]'

const OPTIONS = {
  identity: true,
  agent: true,
  'no-agent': false,
  'known-hosts': true,
  'accept-new-host-key': false,
  'password-env': true,
  'passphrase-env': true,
  timeout: true,
}

const SPAWN_USAGE = 'Spawn [--name=NAME] [--grace=MS] COMMAND [ARG...]'

/** Parses `[user@]host[:port]` (`user@[v6]:port` for IPv6). */
export function parseTarget(target: string): { username: string; host: string; port: number } {
  const at = target.lastIndexOf('@')
  const username = at >= 0 ? target.slice(0, at) : userInfo().username
  const rest = at >= 0 ? target.slice(at + 1) : target
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(rest)
  const host = match?.[1] ?? match?.[2]
  const port = match?.[3] === undefined ? 22 : Number(match[3])
  if (!host || username === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(
      `[adapter-ssh] bad target "${target}": expected USER@HOST[:PORT]; usage: ${USAGE}`,
    )
  }
  return { username, host, port }
}

/** Turns backend arguments into connection options. */
export function parseSshArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): SshOptions {
  const parsed = parseArgs(args, OPTIONS, USAGE, 'adapter-ssh')
  const [target, ...extra] = parsed.positional
  if (target === undefined || extra.length > 0) {
    throw new InvalidArgumentError(
      `[adapter-ssh] ${target === undefined ? 'missing the target USER@HOST' : `unexpected argument "${extra[0]}"`}; usage: ${USAGE}`,
    )
  }
  const fromEnv = (option: string): string | undefined => {
    const name = parsed.options.get(option)
    if (name === undefined) return undefined
    const value = env[name]
    if (value === undefined) {
      throw new InvalidArgumentError(`[adapter-ssh] --${option}=${name} but $${name} is not set`)
    }
    return value
  }
  const identity = parsed.options.get('identity')
  return {
    ...parseTarget(target),
    identityFiles: identity === undefined ? undefined : [identity.replace(/^~(?=\/)/, homedir())],
    agent: parsed.options.has('no-agent') ? false : parsed.options.get('agent'),
    knownHosts:
      parsed.options.get('known-hosts')?.replace(/^~(?=\/)/, homedir()) ??
      join(homedir(), '.ssh', 'known_hosts'),
    acceptNewHostKey: parsed.options.has('accept-new-host-key'),
    password: fromEnv('password-env'),
    passphrase: fromEnv('passphrase-env'),
    readyTimeout: numberOption(parsed, 'timeout', 10_000, USAGE, 'adapter-ssh'),
  }
}

/** The path of a `unix:///ABSOLUTE/PATH` URL. */
function socketPath(url: string): string {
  const path = decodeURIComponent(url.slice('unix://'.length))
  if (!path.startsWith('/')) {
    throw new InvalidArgumentError(
      `[adapter-ssh] bad unix socket URL "${url}": expected unix:///ABSOLUTE/PATH`,
    )
  }
  return path
}

/** Options of {@link sshService}. */
export interface SshServiceOptions {
  /** Where output lines (`Log`) and crashes (`Error`) go, and verbs this service does not answer. */
  out?: Service
  /** Stops every command it started and closes the connection. */
  signal?: AbortSignal
  /** Logs a line (connection problems). */
  log?: (line: string) => void
}

/**
 * A remote machine as a service:
 * - Spawn [--name=N] [--grace=MS] COMMAND ARG...: a remote command (each argument quoted for the
 *   remote shell); its Start runs it, Stop sends TERM then KILL, Get reports state / pid / exit code,
 *   Watch streams start and stop, and its output lines go to `out` as `Log`.
 * - Ls: the names of the commands spawned here; Attach NAME gives one.
 * - Attach unix:///PATH: the head service of a swarmd listening on that unix socket on the server,
 *   through a libswarm session riding the SSH connection.
 * - Connect: the login shell as a byte stream; Connect -- COMMAND ARG...: that command's stdio;
 *   Connect tcp://HOST:PORT: a tunnel to that port as seen from the server; Connect unix:///PATH: a
 *   tunnel to a unix socket on the server (a remote swarmd, for a session to ride).
 * - File PATH: writes the content (`att`) to PATH on the server over SFTP, replacing it at once.
 * - Get: the connection; Watch: `create` events of spawned commands, and their start and stop.
 * - Start / Stop / Get / Watch / Connect NAME: the same verb on the spawned command NAME.
 */
export function sshService(connection: SshConnection, options: SshServiceOptions = {}): Server {
  const procs = new Map<string, { proc: RemoteProc; service: Server }>()
  const hub = new WatchHub()
  const remotes = new Set<RemoteSwarmd>()
  let counter = 0
  /** The spawned command a verb's NAME argument names (rule 8 of docs/VERBS.md). */
  const named = (verb: string, args: string[]): RemoteProc => {
    const name = args[0]
    if (name === undefined)
      throw new NotImplementedError(`not implemented: ${verb} (give the NAME of a spawned command)`)
    if (args.length > 1)
      throw new InvalidArgumentError(`[adapter-ssh] ${verb} takes one NAME, got ${JSON.stringify(args)}`)
    const entry = procs.get(name)
    if (!entry)
      throw new NotFoundError(`[adapter-ssh] no command named "${name}" was spawned here; Ls lists them`)
    return entry.proc
  }
  const out = options.out
  const send = async (message: Message) => {
    if (out) await out.send(message)
  }

  const server: Server = new Server(
    {
      onLs: () => procs.keys(),
      async onAttach(args) {
        const name = args[0] ?? ''
        if (name === '') return server // no NAME: the service itself
        if (name.startsWith('unix://')) {
          // A swarmd on the server, reached by a session through the SSH connection.
          const remote = await remoteSwarmd(connection, socketPath(name), { signal: options.signal })
          remotes.add(remote)
          void remote.session.closed.then(() => remotes.delete(remote))
          return remote.head
        }
        const entry = procs.get(name)
        if (!entry) {
          throw new NotFoundError(`[adapter-ssh] no command named "${name}" was spawned here; Ls lists them`)
        }
        return entry.service
      },
      onSpawn(args) {
        const optionArgs: string[] = []
        let rest = [...args]
        while (rest[0]?.startsWith('--') && rest[0] !== '--') optionArgs.push(rest.shift()!)
        if (rest[0] === '--') rest = rest.slice(1)
        const parsed = parseArgs(optionArgs, { name: true, grace: true }, SPAWN_USAGE, 'adapter-ssh')
        const [command, ...commandArgs] = rest
        if (command === undefined || command === '') {
          throw new InvalidArgumentError(`[adapter-ssh] Spawn needs a command; usage: ${SPAWN_USAGE}`)
        }
        const name = parsed.options.get('name') ?? `${command.split('/').pop()}-${++counter}`
        if (procs.has(name)) throw new ConflictError(`[adapter-ssh] a command named "${name}" exists already`)
        const proc = new RemoteProc(connection, {
          name,
          command,
          args: commandArgs,
          grace: numberOption(parsed, 'grace', 5000, SPAWN_USAGE, 'adapter-ssh'),
          log: send,
          crashed: (message) => {
            options.log?.(message.args[0] ?? 'crashed')
            void send(message).catch(() => {})
          },
        })
        const relay = proc.watch(options.signal)
        void (async () => {
          for await (const event of relay) hub.publish(event)
        })().catch(() => {})
        const service = new Server({
          onStart: () => proc.start(),
          onStop: () => proc.stop(),
          onGet: () => proc.info(),
          onWatch: (_args, context) => proc.watch(context.signal),
          onConnect: () => proc.connect(),
          onLs: () => [],
        })
        procs.set(name, { proc, service })
        hub.publish({ type: 'create', name, state: 'created' })
        return service
      },
      async onConnect(args) {
        const [first, ...rest] = args
        if (first === undefined) return connection.shell()
        if (rest.length === 0 && procs.has(first)) return procs.get(first)!.proc.connect() // Connect NAME
        if (first === '--') {
          if (rest[0] === undefined)
            throw new InvalidArgumentError('[adapter-ssh] Connect -- needs a command')
          return connection.exec(commandLine(rest[0], rest.slice(1)))
        }
        if (first.startsWith('tcp://')) {
          const url = new URL(first)
          const port = Number(url.port)
          if (!url.hostname || !Number.isInteger(port) || port < 1) {
            throw new InvalidArgumentError(
              `[adapter-ssh] bad tunnel target "${first}": expected tcp://HOST:PORT`,
            )
          }
          return connection.forwardTcp(url.hostname.replace(/^\[|\]$/g, ''), port)
        }
        if (first.startsWith('unix://')) return connection.forwardUnix(socketPath(first))
        return connection.exec(commandLine(first, rest))
      },
      // File PATH: the content (att) written to PATH on the server, over SFTP.
      async onFile(args, context) {
        if (args.length !== 1 || !args[0])
          throw new InvalidArgumentError(
            `[adapter-ssh] File takes one remote PATH, got ${JSON.stringify(args)}`,
          )
        await connection.writeFile(args[0], fileContent(context.message.att), context.signal)
      },
      onGet: (args) =>
        args.length > 0
          ? named('Get', args).info()
          : {
              host: connection.options.host,
              port: connection.port,
              user: connection.options.username,
              commands: [...procs.values()].map(({ proc }) => proc.info()),
            },
      onWatch: (args, context) =>
        args.length > 0 ? named('Watch', args).watch(context.signal) : hub.subscribe(context.signal),
      // Start / Stop NAME address a spawned command (the host itself has no run state).
      onStart: (args) => named('Start', args).start(),
      onStop: (args) => named('Stop', args).stop(),
    },
    { fallback: out },
  )

  let closing: Promise<void> | undefined
  const shutdown = () =>
    (closing ??= (async () => {
      await Promise.allSettled([...procs.values()].map(({ proc }) => proc.dispose()))
      await Promise.allSettled([...remotes].map((remote) => remote.close()))
      hub.close()
      await server.close()
      await connection.close()
    })())
  options.signal?.addEventListener('abort', () => void shutdown(), { once: true })
  server.closed.then(() => void shutdown())
  return server
}

/** Builds the service of the `ssh` backend from its arguments. */
export function fromArgs(args: string[], context: BackendContext): Server {
  const connection = new SshConnection(parseSshArgs(args))
  return sshService(connection, {
    out: context.out,
    signal: context.signal,
    log: (line) => context.log(line),
  })
}
