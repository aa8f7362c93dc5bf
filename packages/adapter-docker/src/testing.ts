/**
 * A throwaway Docker Engine for tests: {@link startDockerd} runs a real `dockerd` in a temp
 * directory (vfs storage, no bridge, no iptables, its own socket, data and exec roots), imports a
 * busybox image from a tarball (nothing can be pulled in CI) and stops it by PID afterwards, leaving
 * nothing behind. Needs root and Debian's `docker.io` and `busybox-static` packages.
 *
 * @example
 * import { dockerdAvailable, startDockerd } from '@libswarm/adapter-docker/testing'
 *
 * if (dockerdAvailable().ok) {
 *   await using dockerd = await startDockerd()
 *   console.log(dockerd.host) // unix:///tmp/libswarm-dockerd-XXXX/docker.sock
 * }
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { copyFile, mkdir, symlink } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { UnavailableError } from '@libswarm/core'

/** A running test dockerd. */
export interface TestDockerd {
  /** Its temp directory (socket, data, exec root, log). */
  readonly dir: string
  /** Path of its API socket. */
  readonly socket: string
  /** `unix://` URL of its API socket, as DOCKER_HOST takes it. */
  readonly host: string
  /** Its process id (a new one after {@link TestDockerd.startDaemon}). */
  readonly pid: number
  /** The test image's reference (a static busybox with every applet linked), e.g. `bb:latest`. */
  readonly image: string
  /** Environment for the docker CLI pointed at it: DOCKER_HOST and a private DOCKER_CONFIG. */
  readonly env: NodeJS.ProcessEnv
  /** What dockerd printed so far (for failure messages). */
  log(): string
  /**
   * Stops the dockerd process (SIGTERM, as a service manager would) and waits for it to exit, keeping
   * its directory: data root, exec root and socket path. For tests of clients that must survive a
   * restart; {@link TestDockerd.startDaemon} starts it again.
   */
  stopDaemon(): Promise<void>
  /** Starts dockerd again on the same data root, exec root and socket, and waits until it answers. */
  startDaemon(): Promise<void>
  /** Stops dockerd by PID, unmounts what it left mounted and removes the temp directory. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Options of {@link startDockerd}. */
export interface StartDockerdOptions {
  /** Import the busybox test image. Default: true. */
  image?: boolean
  /** How long to wait for the API to answer. Default: 30 000 ms. */
  timeoutMs?: number
}

/** Finds an executable on PATH (and in the sbin folders, which root's PATH may lack). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']
  for (const dir of dirs) {
    if (!dir) continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return undefined
}

/**
 * Whether a test dockerd can run here: root, `dockerd` and a static `busybox`. When not, `reason`
 * says what is missing and how to install it.
 */
export function dockerdAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'dockerd tests need Linux' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'dockerd tests need root' }
  if (!which('dockerd')) {
    return { ok: false, reason: 'dockerd is not installed (Debian: apt-get install docker.io)' }
  }
  if (!busyboxPath()) {
    return { ok: false, reason: 'a static busybox is not installed (Debian: apt-get install busybox-static)' }
  }
  return { ok: true }
}

/** The docker CLI to test with: the newest one installed (/usr/local/bin first), or undefined. */
export function dockerCli(): string | undefined {
  if (existsSync('/usr/local/bin/docker')) return '/usr/local/bin/docker'
  return which('docker')
}

function busyboxPath(): string | undefined {
  for (const file of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(file)) return file
  return which('busybox')
}

/** Starts a test dockerd and waits until its API answers (and the test image is imported). */
export async function startDockerd(options: StartDockerdOptions = {}): Promise<TestDockerd> {
  const available = dockerdAvailable()
  if (!available.ok)
    throw new UnavailableError(`[adapter-docker] cannot start a test dockerd: ${available.reason}`)
  const timeoutMs = options.timeoutMs ?? 30_000
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-dockerd-'))
  const socket = join(dir, 'docker.sock')
  let output = ''
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8')
    if (output.length > 200_000) output = output.slice(-100_000)
  }
  let child: ChildProcess
  let exited: Promise<void>
  const launch = () => {
    child = spawn(
      which('dockerd')!,
      [
        '--host',
        `unix://${socket}`,
        '--storage-driver',
        'vfs',
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '--pidfile',
        join(dir, 'dockerd.pid'),
        '--shutdown-timeout',
        '2',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    const current = child
    exited = new Promise<void>((resolve) => current.once('exit', () => resolve()))
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
  }
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new UnavailableError(`[adapter-docker] dockerd exited while starting:\n${output.slice(-4000)}`)
      }
      if (await pingSocket(socket)) break
      if (Date.now() > deadline) {
        throw new UnavailableError(
          `[adapter-docker] dockerd did not answer within ${timeoutMs} ms:\n${output.slice(-4000)}`,
        )
      }
      // Readiness of an external process: nothing to await but its socket, so poll it briefly.
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  launch()
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await kill()
      unmountUnder(dir)
      rmSync(dir, { recursive: true, force: true })
    })()
    return stopped
  }
  const host = `unix://${socket}`
  const daemon: TestDockerd = {
    dir,
    socket,
    host,
    get pid() {
      return child.pid ?? -1
    },
    image: 'bb:latest',
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli-config') },
    log: () => output,
    stopDaemon: async () => {
      if (stopped) throw new UnavailableError('[adapter-docker] this test dockerd was stopped for good')
      await kill()
    },
    startDaemon: async () => {
      if (stopped) throw new UnavailableError('[adapter-docker] this test dockerd was stopped for good')
      if (child.exitCode === null && child.signalCode === null) return
      launch()
      await ready()
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
  try {
    await ready()
    if (options.image ?? true) await importBusybox(dir, socket)
    return daemon
  } catch (error) {
    await stop()
    throw error
  }
}

function pingSocket(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false)
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => {
      req.destroy()
      resolve(false)
    })
  })
}

async function importBusybox(dir: string, socket: string): Promise<void> {
  const root = join(dir, 'image-root')
  await mkdir(join(root, 'bin'), { recursive: true })
  await mkdir(join(root, 'tmp'), { recursive: true })
  const busybox = busyboxPath()!
  await copyFile(busybox, join(root, 'bin', 'busybox'))
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)
  for (const applet of applets) {
    if (applet !== 'busybox') await symlink('busybox', join(root, 'bin', applet))
  }
  const tarball = join(dir, 'bb.tar')
  execFileSync('tar', ['-C', root, '-cf', tarball, '.'])
  rmSync(root, { recursive: true, force: true })
  const body = readFileSync(tarball)
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method: 'POST',
        path: '/images/create?fromSrc=-&repo=bb&tag=latest',
        headers: { 'Content-Type': 'application/x-tar', 'Content-Length': body.length },
        timeout: 60_000,
      },
      (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
        res.on('end', () =>
          res.statusCode === 200 && !text.includes('"error"')
            ? resolve()
            : reject(new UnavailableError(`[adapter-docker] importing the test image failed: ${text}`)),
        )
      },
    )
    req.on('error', reject)
    req.on('timeout', () =>
      req.destroy(new UnavailableError('[adapter-docker] importing the test image timed out')),
    )
    req.end(body)
  })
  rmSync(tarball, { force: true })
}

function unmountUnder(dir: string): void {
  let mounts: string[]
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .map((path) => path.replace(/\\040/g, ' '))
      .filter((path) => path === dir || path.startsWith(`${dir}/`))
  } catch {
    return
  }
  // Deepest first.
  mounts.sort((a, b) => b.length - a.length)
  for (const mount of mounts) {
    try {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' })
    } catch {}
  }
}
