import { chmod, lstat, mkdtemp, rename, rmdir, stat, unlink } from 'node:fs/promises'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { dirname, isAbsolute, join } from 'node:path'
import {
  abortErrorFrom,
  type DialOptions,
  InvalidArgumentError,
  type LibswarmError,
  type Link,
  type LinkListener,
  type ListenOptions,
  type PeerInfo,
  type Transport,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { QueueListener, socketLink, socketReady } from '@libswarm/core/node'
import { FdLink } from './internal/fd-link.ts'
import { addonLoadError, type FdPassAddon, loadAddon } from './internal/native.ts'

const PKG = 'transport-unix'
/** sockaddr_un.sun_path holds 108 bytes on Linux, including the terminating NUL. */
const MAX_PATH_BYTES = 107

/** Options of {@link unix}. `mode` and `replaceStale` may also be given per `listen` call. */
export interface UnixOptions {
  /** Permission bits of the socket file a listener creates. Default: `0o600` (owner only). */
  mode?: number
  /**
   * Pass attachments as real file descriptors (SCM_RIGHTS) when the native addon is built. `false`
   * uses a plain Node socket and the session copies attachment bytes instead. Default: `true`.
   */
  passFds?: boolean
  /** On listen, remove a stale socket file that nobody listens on any more. Default: `true`. */
  replaceStale?: boolean
  /** Listen backlog. Default: the OS default (511). */
  backlog?: number
}

/** True when this process can pass file descriptors over unix links (the native addon loaded). */
export function fdPassingAvailable(): boolean {
  return loadAddon() !== undefined
}

/** Why fd passing is not available (the addon's load error), or undefined when it is. */
export function fdPassingUnavailableReason(): string | undefined {
  if (loadAddon()) return undefined
  const error = addonLoadError()
  return `the native addon (build/Release/fdpass.node) did not load: ${error instanceof Error ? error.message : String(error)}`
}

function parsePath(url: URL): string {
  if (url.protocol !== 'unix:') {
    throw new InvalidArgumentError(
      `[${PKG}] cannot handle URL "${url.href}": expected unix:///absolute/path (e.g. unix:///run/swarmd.sock)`,
    )
  }
  if (url.host !== '') {
    throw new InvalidArgumentError(
      `[${PKG}] URL "${url.href}" has a host part ("${url.host}"); write three slashes before an absolute path: unix:///run/swarmd.sock`,
    )
  }
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    throw new InvalidArgumentError(
      `[${PKG}] URL "${url.href}" has a malformed %-escape in its path; write a literal path, e.g. unix:///run/swarmd.sock`,
    )
  }
  if (path.includes('\0')) {
    throw new InvalidArgumentError(
      `[${PKG}] URL "${url.href}": a socket path cannot contain a NUL byte (%00)`,
    )
  }
  if (!isAbsolute(path) || path === '/') {
    throw new InvalidArgumentError(
      `[${PKG}] URL "${url.href}" needs an absolute socket path, e.g. unix:///run/swarmd.sock`,
    )
  }
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new InvalidArgumentError(
      `[${PKG}] socket path "${path}" is ${Buffer.byteLength(path)} bytes; unix sockets allow at most ${MAX_PATH_BYTES}: use a shorter path`,
    )
  }
  return path
}

function pathUrl(path: string): URL {
  return new URL(`unix://${encodeURI(path)}`)
}

const ERRNO: Record<number, string> = {
  2: 'ENOENT',
  11: 'EAGAIN',
  13: 'EACCES',
  20: 'ENOTDIR',
  36: 'ENAMETOOLONG',
  111: 'ECONNREFUSED',
  88: 'ENOTSOCK',
}

function dialError(path: string, code: string | undefined, cause: unknown): LibswarmError {
  const target = `unix://${path}`
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new UnavailableError(
        `[${PKG}] cannot connect to ${target}: no socket at that path; check that the server is running and the path is right`,
        { cause },
      )
    case 'ECONNREFUSED':
      return new UnavailableError(
        `[${PKG}] cannot connect to ${target}: nobody is listening there (a stale socket file?); check that the server is running`,
        { cause },
      )
    case 'EACCES':
    case 'EPERM':
      return new UnauthorizedError(
        `[${PKG}] cannot connect to ${target}: permission denied; the socket's mode (0600 by default) lets only its owner connect: run as that user or listen with a wider "mode"`,
        { cause },
      )
    case 'EAGAIN':
      return new UnavailableError(
        `[${PKG}] cannot connect to ${target}: the server's accept backlog is full; try again`,
        { cause },
      )
    case 'ENOTSOCK':
      return new UnavailableError(`[${PKG}] cannot connect to ${target}: that file is not a socket`, {
        cause,
      })
    default:
      return new UnavailableError(
        `[${PKG}] cannot connect to ${target}: ${cause instanceof Error ? cause.message : (code ?? String(cause))}`,
        { cause },
      )
  }
}

function listenError(path: string, cause: unknown): LibswarmError {
  const code = (cause as { code?: string } | null)?.code
  const target = `unix://${path}`
  switch (code) {
    case 'EADDRINUSE':
      return new UnavailableError(
        `[${PKG}] cannot listen on ${target}: the address is already in use (another server is listening there); stop it or pick another path`,
        { cause },
      )
    case 'EACCES':
    case 'EPERM':
      return new UnavailableError(
        `[${PKG}] cannot listen on ${target}: permission denied; the directory ${dirname(path)} must be writable by this user`,
        { cause },
      )
    case 'ENOENT':
      return new UnavailableError(
        `[${PKG}] cannot listen on ${target}: the directory ${dirname(path)} does not exist`,
        { cause },
      )
    default:
      return cause instanceof UnavailableError || cause instanceof InvalidArgumentError
        ? cause
        : new UnavailableError(
            `[${PKG}] cannot listen on ${target}: ${cause instanceof Error ? cause.message : String(cause)}`,
            { cause },
          )
  }
}

/** Probes an existing file at `path`: removes a stale socket, refuses a live one or a non-socket. */
async function clearStale(path: string, replaceStale: boolean): Promise<void> {
  const info = await lstat(path).catch(() => undefined)
  if (!info) return
  if (!info.isSocket()) {
    throw new UnavailableError(
      `[${PKG}] cannot listen on unix://${path}: a file that is not a socket is in the way; remove it or pick another path`,
    )
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = netConnect({ path })
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'))
  })
  if (live) throw listenError(path, Object.assign(new Error('address in use'), { code: 'EADDRINUSE' }))
  if (!replaceStale) {
    throw new UnavailableError(
      `[${PKG}] cannot listen on unix://${path}: a stale socket file is there and replaceStale is false; remove it`,
    )
  }
  await unlink(path)
}

function listenOn(server: Server, path: string, backlog: number | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once('error', onError)
    server.listen({ path, backlog }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * Binds the socket in a fresh private directory next to `path`, sets its mode, then renames it into
 * place: no one can connect before the mode is set. Falls back to bind-then-chmod when the temporary
 * path would be too long.
 */
async function bindWithMode(server: Server, path: string, mode: number, backlog?: number): Promise<void> {
  const dir = dirname(path)
  let temp: string | undefined
  try {
    temp = await mkdtemp(join(dir, '.ls-'))
  } catch (error) {
    throw listenError(path, error)
  }
  const tempSocket = join(temp, 's')
  try {
    if (Buffer.byteLength(tempSocket) > MAX_PATH_BYTES) {
      await listenOn(server, path, backlog)
      await chmod(path, mode)
      return
    }
    await listenOn(server, tempSocket, backlog)
    await chmod(tempSocket, mode)
    await rename(tempSocket, path)
  } catch (error) {
    server.close()
    throw listenError(path, error)
  } finally {
    await rmdir(temp).catch(() => {})
  }
}

function adoptSocket(addon: FdPassAddon, socket: Socket): number {
  const handleFd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof handleFd !== 'number' || handleFd < 0) return -1
  return addon.dup(handleFd)
}

/**
 * The unix socket transport: `unix:///path`. Listeners create the socket file with mode 0600 by
 * default. With the native addon built (it is, during `pnpm install`, where a C compiler exists),
 * links pass file descriptors with SCM_RIGHTS (`link.canPassFds`), and `peer.identity` carries the
 * peer's `{ pid, uid, gid }`.
 *
 * @example
 * import { connect } from '@libswarm/core'
 * import { unix } from '@libswarm/transport-unix'
 * const session = await connect('unix:///run/swarmd.sock', { transports: [unix()] })
 */
export function unix(options: UnixOptions = {}): Transport {
  const passFds = options.passFds ?? true
  return {
    name: 'unix',
    schemes: ['unix'],
    async dial(url: URL, callOptions: DialOptions = {}): Promise<Link> {
      const path = parsePath(url)
      const signal = callOptions.signal
      if (signal?.aborted) throw abortErrorFrom(signal)
      const peer: PeerInfo = { transport: 'unix', address: path }
      const addon = passFds ? loadAddon() : undefined
      if (addon) {
        const fd = addon.connect(path)
        if (fd < 0) throw dialError(path, ERRNO[-fd] ?? `errno ${-fd}`, undefined)
        return new FdLink(addon, fd, peer)
      }
      const socket = netConnect({ path, allowHalfOpen: true })
      await socketReady(socket, 'connect', {
        signal,
        describe: (error) => dialError(path, error.code, error),
      })
      return socketLink(socket, peer)
    },

    async listen(url: URL, callOptions: ListenOptions = {}): Promise<LinkListener> {
      const path = parsePath(url)
      const merged = { ...options, ...callOptions } as UnixOptions & ListenOptions
      const mode = merged.mode ?? 0o600
      if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
        throw new InvalidArgumentError(`[${PKG}] option "mode" must be permission bits such as 0o600`)
      }
      const { signal, authenticate } = callOptions
      if (signal?.aborted) throw abortErrorFrom(signal)
      const addon = passFds ? loadAddon() : undefined
      try {
        await clearStale(path, merged.replaceStale ?? true)
      } catch (error) {
        throw listenError(path, error)
      }
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: addon !== undefined })
      await bindWithMode(server, path, mode, merged.backlog)
      const ours = await stat(path).catch(() => undefined)
      const listener = new QueueListener(pathUrl(path), async () => {
        signal?.removeEventListener('abort', onAbort)
        server.close()
        // Remove the socket file, unless another server has replaced it since.
        const now = await stat(path).catch(() => undefined)
        if (ours && now && now.ino === ours.ino && now.dev === ours.dev) await unlink(path).catch(() => {})
      })
      const onAbort = () => void listener.close()
      signal?.addEventListener('abort', onAbort, { once: true })
      server.on('error', () => void listener.close())
      server.on('connection', (socket: Socket) => {
        const peer: PeerInfo = { transport: 'unix', address: path }
        let link: Link
        if (addon) {
          const fd = adoptSocket(addon, socket)
          socket.destroy()
          if (fd < 0) return
          link = new FdLink(addon, fd, peer)
        } else {
          link = socketLink(socket, peer)
        }
        listener.admit(link, authenticate)
      })
      return listener
    },
  }
}
