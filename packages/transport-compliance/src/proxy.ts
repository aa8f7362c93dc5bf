/**
 * Test helpers for transports tested through a real reverse proxy: find the proxy binary, pick a
 * free port, start the process in a temp dir and wait for it, stop it by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A port that was free a moment ago (listen on 0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Resolves once something accepts TCP connections on the port; rejects after `ms`. */
export async function waitForPort(port: number, ms: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${ms} ms`)
}

/** Finds an executable in the usual places (sbin is often not on a user's PATH). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    const file = join(dir, name)
    if (dir && existsSync(file)) return file
  }
  return undefined
}

/** A real server process in its own temp dir, stopped by PID. */
export interface RealServer {
  dir: string
  port: number
  log(): string
  stop(): Promise<void>
}

export async function startProcess(
  binary: string,
  args: (dir: string, port: number) => string[],
  logFile: string,
  prepare?: (dir: string, port: number) => void,
): Promise<RealServer> {
  // The port can be taken between the check and the server's bind (other tests open sockets all
  // the time): then try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort(binary, args, logFile, prepare)
    } catch (error) {
      if (attempt >= 5 || !/address already in use/i.test(String(error))) throw error
    }
  }
}

async function startOnFreePort(
  binary: string,
  args: (dir: string, port: number) => string[],
  logFile: string,
  prepare?: (dir: string, port: number) => void,
): Promise<RealServer> {
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-proxy-'))
  const port = await freePort()
  prepare?.(dir, port)
  const child = spawn(binary, args(dir, port), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d) => (output += d))
  child.stderr?.on('data', (d) => (output += d))
  const log = () => {
    const file = join(dir, logFile)
    return `${output}${existsSync(file) ? readFileSync(file, 'utf8') : ''}`
  }
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, 10_000, child)
  } catch (error) {
    const text = log()
    await stop()
    throw new Error(`${(error as Error).message}\n${text}`)
  }
  return { dir, port, log, stop }
}
