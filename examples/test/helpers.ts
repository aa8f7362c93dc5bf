/** Runs the examples as a user would (`node --import tsx file.ts`), each wait bounded. */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The examples folder: the working folder of every run. */
export const EXAMPLES = fileURLToPath(new URL('..', import.meta.url))

export interface Started {
  child: ChildProcess
  readonly output: string
  /** Resolves with the first match in stdout+stderr; rejects after `timeoutMs` with what was seen. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Resolves with the exit code; kills the process and rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | null>
  /** SIGTERM, then waits (bounded) for the exit. */
  stop(): Promise<void>
}

/** Starts `examples/<file>` with `args`. */
export function start(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: EXAMPLES,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8')
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const started: Started = {
    child,
    get output() {
      return output
    },
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output)
          if (!match) return
          done()
          resolve(match)
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${file}: no ${pattern} within ${timeoutMs} ms; output:\n${output}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    async exited(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`${file} did not exit within ${timeoutMs} ms; output:\n${output}`))
        }, timeoutMs)
      })
      try {
        return await Promise.race([exit, timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await started.exited(10_000).catch(() => {})
    },
  }
  return started
}

/** Runs `examples/<file>` to its end and returns its output; fails on a non-zero exit. */
export async function run(file: string, args: string[] = [], timeoutMs = 30_000): Promise<string> {
  const example = start(file, args)
  const code = await example.exited(timeoutMs)
  if (code !== 0) throw new Error(`${file} exited with ${code}; output:\n${example.output}`)
  return example.output
}
