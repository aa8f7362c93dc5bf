/**
 * Test harness: a real dnsmasq on a loopback port in a temp dir, answering SRV records, restartable
 * with other records. Stopped by PID.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** One `srv-host` line: name, target, port, priority, weight. */
export interface SrvLine {
  name: string
  target: string
  port: number
  priority?: number
  weight?: number
}

/** The dnsmasq binary, or undefined when it is not installed. */
export function findDnsmasq(): string | undefined {
  for (const path of ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq']) {
    if (spawnSync(path, ['--version']).status === 0) return path
  }
  return undefined
}

/** Why the integration tests cannot run, or undefined when they can. Under CI a missing server fails instead. */
export function dnsmasqMissing(): string | undefined {
  if (findDnsmasq()) return undefined
  const reason = 'dnsmasq is not installed (apt-get install dnsmasq)'
  if (process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`)
  return reason
}

/** A loopback port free for both UDP and TCP right now (dnsmasq listens on both). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4')
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
    const { port } = udp.address()
    const tcp = createServer()
    const tcpFree = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false))
      tcp.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (tcpFree) await new Promise<void>((resolve) => tcp.close(() => resolve()))
    await new Promise<void>((resolve) => udp.close(() => resolve()))
    if (tcpFree) return port
  }
  throw new Error('found no loopback port free for both UDP and TCP in 20 tries')
}

/** A running dnsmasq. */
export class Dnsmasq {
  private child: ChildProcess | undefined
  readonly dir = mkdtempSync(join(tmpdir(), 'libswarm-dnsmasq-'))
  port = 0

  private constructor(
    private readonly binary: string,
    private readonly ttl: number,
  ) {}

  /** Starts dnsmasq with `records` (TTL `ttl` seconds) on a free loopback port. */
  static async start(records: SrvLine[], ttl = 1): Promise<Dnsmasq> {
    const binary = findDnsmasq()
    if (!binary) throw new Error('dnsmasq is not installed')
    const server = new Dnsmasq(binary, ttl)
    // The port can still be taken between the check and dnsmasq's bind (the other tests open
    // sockets all the time): then try another one.
    for (let attempt = 1; ; attempt++) {
      server.port = await freePort()
      try {
        await server.run(records)
        return server
      } catch (error) {
        if (attempt >= 5 || !/Address already in use/.test(String(error))) throw error
      }
    }
  }

  private async run(records: SrvLine[]): Promise<void> {
    const conf = join(this.dir, 'dnsmasq.conf')
    const lines = records.map(
      (r) => `srv-host=${r.name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 0}`,
    )
    writeFileSync(conf, `${lines.join('\n')}\n`)
    const child = spawn(
      this.binary,
      [
        '-k',
        `--port=${this.port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--pid-file=',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []), // as root, do not switch to the dnsmasq user
        '--local=/test/',
        `--local-ttl=${this.ttl}`,
        `--conf-file=${conf}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    this.child = child
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    // Ready when it answers a query (or fail if it exits first).
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited with ${child.exitCode}: ${stderr}`)
      if (await this.answers()) return
    }
    throw new Error(`dnsmasq did not answer on port ${this.port} within 5 s: ${stderr}`)
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createSocket('udp4')
      const done = (ok: boolean) => {
        clearTimeout(timer)
        socket.close()
        resolve(ok)
      }
      const timer = setTimeout(() => done(false), 100)
      socket.on('message', () => done(true))
      socket.on('error', () => done(false))
      // A minimal query for "test." type A.
      const query = Buffer.from([
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1,
      ])
      socket.send(query, this.port, '127.0.0.1')
    })
  }

  /** Stops dnsmasq and starts it again on the same port with `records`. */
  async restart(records: SrvLine[]): Promise<void> {
    await this.stopProcess()
    await this.run(records)
  }

  /** Stops dnsmasq (the port stays reserved for {@link Dnsmasq.resume}). */
  async halt(): Promise<void> {
    await this.stopProcess()
  }

  /** Starts dnsmasq again on the same port with `records`. */
  async resume(records: SrvLine[]): Promise<void> {
    await this.run(records)
  }

  private async stopProcess(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    process.kill(child.pid!, 'SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL')
  }

  /** Stops dnsmasq by PID and removes the temp dir. */
  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
