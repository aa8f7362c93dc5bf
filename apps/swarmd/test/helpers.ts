import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The real swarmd executable. */
export const BIN = fileURLToPath(new URL('../bin/swarmd.js', import.meta.url))
/** The repository root, where the workspace's adapters are installed. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface Run {
  child: ChildProcess
  /** Everything printed so far. */
  readonly stdout: string
  readonly stderr: string
  /** Resolves when stderr or stdout matches, rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Resolves with the outcome; kills the process and rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<Result>
}

/** Starts swarmd as a child process. `input`, when given, is written to stdin, which is then closed. */
export function start(
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, HOME: options.env?.HOME ?? tmpdir(), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const waiter of waiters) waiter()
  }
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    notify()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    notify()
  })
  if (options.input !== undefined) child.stdin!.end(options.input)
  const exit = new Promise<Result>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return {
    child,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stderr.match(pattern) ?? stdout.match(pattern)
          if (match) {
            cleanup()
            resolve(match)
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out waiting for ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`))
        }, timeoutMs)
        const onExit = () => {
          check()
          cleanup()
          reject(
            new Error(`swarmd exited while waiting for ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`),
          )
        }
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
          child.off('close', onExit)
        }
        waiters.add(check)
        child.on('close', onExit)
        check()
      })
    },
    async exited(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(
            new Error(`swarmd did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
          )
        }, timeoutMs)
      })
      try {
        return await Promise.race([exit, timeout])
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/** Runs swarmd to completion. */
export function run(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return start(args, { input: '', ...options }).exited()
}

/** A temporary folder, removed on dispose. */
export function tempDir(): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), 'swarmd-test-'))
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) }
}

/** Writes files (path relative to `dir` → content) creating folders. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path)
    mkdirSync(join(full, '..'), { recursive: true })
    writeFileSync(full, content)
  }
}

/**
 * A tiny adapter package in plain JS: `echo` answers every verb with Ack carrying its args and
 * logs one line when spawned; `picky` accepts only the argument "ok".
 */
export const FIXTURE_ADAPTER = `
export const backends = [
  {
    name: 'echo',
    summary: 'answers every verb with Ack and its args',
    usage: 'echo [WORDS...]',
    spawn(args, context) {
      context.log('echo spawned with ' + JSON.stringify(args))
      return {
        [Symbol.for('libswarm.sender')]: true,
        async send(message) {
          if (message.ret) {
            await message.ret.send({ verb: 'Ack', args: [message.verb, ...message.args] })
            await message.ret.close()
          }
        },
        async close() {},
        abort() {},
        closed: new Promise(() => {}),
        async [Symbol.asyncDispose]() {},
      }
    },
  },
  {
    name: 'picky',
    summary: 'accepts only the argument ok',
    usage: 'picky ok',
    spawn(args) {
      const error = new Error('picky wants exactly "ok", got ' + JSON.stringify(args))
      error.name = 'InvalidArgumentError'
      error.code = 'INVALID_ARGUMENT'
      throw error
    },
  },
]
`

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Waits (at most `timeoutMs`) for processes that are not our children to exit, polling, since no
 * event tells us; resolves with the ones still alive.
 */
export async function waitUntilGone(pids: number[], timeoutMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  while (pids.some(processAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  return pids.filter(processAlive)
}
