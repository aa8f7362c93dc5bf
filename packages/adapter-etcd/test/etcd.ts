/**
 * Test harness: a real etcd 3.4 on loopback in a temp dir, with free client and peer ports.
 * Stoppable and restartable on the same data dir and ports; stopped by PID.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The etcd binary, or undefined when it is not installed. */
export function findEtcd(): string | undefined {
  for (const path of ['/usr/bin/etcd', '/usr/local/bin/etcd']) {
    if (spawnSync(path, ['--version']).status === 0) return path
  }
  return undefined
}

/** Why the integration tests cannot run, or undefined. Under CI a missing etcd fails instead. */
export function etcdMissing(): string | undefined {
  if (findEtcd()) return undefined
  const reason = 'etcd is not installed (apt-get install etcd-server)'
  if (process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`)
  return reason
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A running etcd. */
export class Etcd {
  readonly dir = mkdtempSync(join(tmpdir(), 'libswarm-etcd-'))
  private child: ChildProcess | undefined
  clientPort = 0
  peerPort = 0

  private constructor(private readonly binary: string) {}

  /** The client URL, e.g. `http://127.0.0.1:23790`. */
  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`
  }

  static async start(): Promise<Etcd> {
    const binary = findEtcd()
    if (!binary) throw new Error('etcd is not installed')
    const etcd = new Etcd(binary)
    // A port can be taken between the check and etcd's bind (other tests open sockets all the
    // time): then try other ones.
    for (let attempt = 1; ; attempt++) {
      etcd.clientPort = await freePort()
      etcd.peerPort = await freePort()
      try {
        await etcd.run()
        return etcd
      } catch (error) {
        if (attempt >= 5 || !/address already in use/i.test(String(error))) throw error
      }
    }
  }

  private async run(): Promise<void> {
    const client = this.url
    const peer = `http://127.0.0.1:${this.peerPort}`
    const child = spawn(
      this.binary,
      [
        '--name=t',
        `--data-dir=${join(this.dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=t=${peer}`,
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    this.child = child
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)))
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${stderr}`)
      try {
        const response = await fetch(`${client}/health`, { signal: AbortSignal.timeout(500) })
        if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`etcd did not become healthy on ${client} within 10 s: ${stderr}`)
  }

  /** Stops etcd (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. The data dir is kept. */
  async halt(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    process.kill(child.pid!, 'SIGTERM')
    const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  /** Starts etcd again on the same data dir and ports. */
  async resume(): Promise<void> {
    await this.run()
  }

  /** Stops etcd by PID and removes the temp dir. */
  async stop(): Promise<void> {
    await this.halt()
    rmSync(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
