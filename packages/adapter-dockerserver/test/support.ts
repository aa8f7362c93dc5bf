/**
 * Helpers of the integration tests: run the real docker CLI, and run a swarmd pipeline as a child
 * process with this workspace's adapters installed next to it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dockerCli, dockerdAvailable } from '@libswarm/adapter-docker/testing'

const here = dirname(fileURLToPath(import.meta.url))
const packages = join(here, '..', '..')
const swarmdBin = join(packages, '..', 'apps', 'swarmd', 'bin', 'swarmd.js')

/** Why the integration tests cannot run here, or undefined when they can. In CI a reason is a failure. */
export function missingReason(): string | undefined {
  const daemon = dockerdAvailable()
  if (!daemon.ok) return daemon.reason
  if (!dockerCli()) return 'the docker CLI is not installed'
  return undefined
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** The CLI's config folder: next to the socket (inside the test dockerd's temp folder, removed with it). */
function cliConfigDir(host: string): string {
  return join(dirname(host.replace(/^unix:\/\//, '')), 'cli-config')
}

/** Runs `docker ARGS` against `host` (a unix:// URL), bounded by `timeoutMs`. */
export function docker(host: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  const config = cliConfigDir(host)
  return new Promise((resolve) => {
    execFile(
      dockerCli()!,
      args,
      {
        env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config },
        timeout: timeoutMs,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error
          ? typeof (error as { code?: unknown }).code === 'number'
            ? (error as { code: number }).code
            : -1
          : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Starts `docker ARGS` in the background (for `events`, `logs -f`); returns it and its collected stdout. */
export function dockerBackground(host: string, args: string[]): { child: ChildProcess; output(): string } {
  const config = cliConfigDir(host)
  const child = spawn(dockerCli()!, args, {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
  return { child, output: () => out }
}

/** Resolves once `predicate(output())` holds; rejects after `timeoutMs` with what was seen. */
export async function waitForOutput(
  source: { child: ChildProcess; output(): string },
  predicate: (text: string) => boolean,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const check = () => {
      const text = source.output()
      if (predicate(text)) {
        cleanup()
        resolve(text)
      } else if (Date.now() > deadline) {
        cleanup()
        reject(new Error(`timed out waiting for output; got:\n${text}`))
      }
    }
    const timer = setInterval(check, 50)
    const onData = () => check()
    source.child.stdout?.on('data', onData)
    source.child.stderr?.on('data', onData)
    function cleanup() {
      clearInterval(timer)
      source.child.stdout?.off('data', onData)
      source.child.stderr?.off('data', onData)
    }
    check()
  })
}

/** Stops a child process by its PID and waits for it to exit (SIGKILL after 5 s). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** A swarmd pipeline running as a child process. */
export interface Swarmd {
  child: ChildProcess
  log(): string
  stop(): Promise<void>
}

/**
 * Runs `swarmd STAGES...` from a temp folder whose node_modules/@libswarm holds this workspace's
 * adapters, and waits until the Docker API answers at `socket`.
 */
export async function startSwarmd(stages: string[], socket: string, timeoutMs = 30_000): Promise<Swarmd> {
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-swarmd-'))
  const scope = join(dir, 'node_modules', '@libswarm')
  mkdirSync(scope, { recursive: true })
  for (const name of ['adapter-dockerserver', 'adapter-docker', 'adapter-debug', 'adapter-simulator']) {
    symlinkSync(join(packages, name), join(scope, name))
  }
  const child = spawn(process.execPath, [swarmdBin, ...stages], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  const collect = (chunk: Buffer) => {
    log += chunk.toString('utf8')
    if (log.length > 400_000) log = log.slice(-200_000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const stop = async () => {
    await stopChild(child)
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop()
      throw new Error(`swarmd exited while starting:\n${log}`)
    }
    if (await ping(socket)) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`swarmd did not serve the Docker API within ${timeoutMs} ms:\n${log}`)
    }
    // Readiness of another process: poll its socket briefly.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { child, log: () => log, stop }
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 1000 }, (res) => {
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

/**
 * Waits until every `docker events` stream in `streams` is really subscribed: the CLI returns once it
 * has response headers, so an event made before the server registered the watcher would be missed.
 * Creates probe containers with `create(name)` until one shows up in every stream (bounded), and
 * returns the probe names so the caller can remove them.
 */
export async function warmUpEvents(
  streams: { child: ChildProcess; output(): string }[],
  create: (name: string) => Promise<void>,
  attempts = 20,
): Promise<string[]> {
  const probes: string[] = []
  for (let i = 0; i < attempts; i++) {
    const name = `probe${i}`
    await create(name)
    probes.push(name)
    try {
      await Promise.all(
        streams.map((stream) => waitForOutput(stream, (t) => t.includes(`create ${name}\n`), 1000)),
      )
      return probes
    } catch {
      // not subscribed yet: try another probe
    }
  }
  throw new Error(`docker events never reported a probe container after ${attempts} tries`)
}
