import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { processAlive, run, start, tempDir, waitUntilGone, writeFiles } from './helpers.ts'

/**
 * Fixture backends in plain JS. `recorder [fail-start]` logs "got Start" / "got Stop" for the bare
 * Start and Stop the pipeline sends it (answering Ack, or an Error for Start with `fail-start`,
 * one second later) and
 * forwards every other message to the next stage, output included, like a middle stage should.
 * `boom` throws from spawn.
 */
const RECORDER = `
const SENDER = Symbol.for('libswarm.sender')
export const backends = [
  {
    name: 'recorder',
    summary: 'logs the Start and Stop it gets, forwards the rest',
    usage: 'recorder [fail-start]',
    spawn(args, context) {
      const failStart = args.includes('fail-start')
      return {
        [SENDER]: true,
        async send(message) {
          if ((message.verb === 'Start' || message.verb === 'Stop') && message.args.length === 0) {
            context.log('got ' + message.verb)
            // Fail a moment later, so the stages started before have shown they run.
            if (failStart && message.verb === 'Start') await new Promise((r) => setTimeout(r, 1000))
            const reply = failStart && message.verb === 'Start'
              ? { verb: 'Error', args: ['refuses to start: no coffee', 'UNAVAILABLE'] }
              : { verb: 'Ack', args: [] }
            await message.ret?.send(reply)
            await message.ret?.close()
            return
          }
          await context.out.send(message)
        },
        async close() {},
        abort() {},
        closed: new Promise(() => {}),
        async [Symbol.asyncDispose]() {},
      }
    },
  },
  {
    name: 'boom',
    summary: 'throws from spawn',
    usage: 'boom',
    spawn() {
      throw new Error('kaboom while spawning')
    },
  },
]
`

const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))
/** swarmd's folder, where `node --import tsx` finds tsx. */
const SWARMD_DIR = fileURLToPath(new URL('..', import.meta.url))

function fixtureDir() {
  const dir = tempDir()
  writeFiles(dir.path, {
    'recorder.mjs': RECORDER,
    'swarmd.config.json': '{"adapters":["./recorder.mjs"]}',
  })
  return dir
}

/** The index of the first line of `text` matching `pattern`; fails the test if none. */
function lineIndex(text: string, pattern: RegExp): number {
  const index = text.split('\n').findIndex((line) => pattern.test(line))
  expect(index, `no line matches ${pattern} in:\n${text}`).toBeGreaterThanOrEqual(0)
  return index
}

/** Kills `pid` (and its group) if it is still there; for cleanup after a failed assertion. */
function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

describe('a stage that crashes while running', () => {
  it('a middle exec stage exiting non-zero is reported under its own name; the others get Stop, last first; exit 1', async () => {
    using dir = fixtureDir()
    const result = await run(['recorder', 'exec -- sh -c "echo pid=$$; sleep 0.3; exit 3"', 'recorder'], {
      cwd: dir.path,
      input: undefined,
    })
    expect(result.code).toBe(1)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    // Its output and its failure pass through recorder#2, yet name the exec stage.
    expect(result.stderr).toMatch(/^\[exec\] pid=\d+$/m)
    expect(result.stderr).toMatch(/^\[exec\] error: \[adapter-exec\] sh \(pid \d+\) exited with code 3$/m)
    expect(result.stderr).not.toMatch(/\[recorder(#2)?\] (error: )?\[adapter-exec\]/)
    const crashed = lineIndex(result.stderr, /exited with code 3/)
    const lastStopped = lineIndex(result.stderr, /^\[recorder#2\] got Stop$/)
    const firstStopped = lineIndex(result.stderr, /^\[recorder\] got Stop$/)
    expect(crashed).toBeLessThan(lastStopped)
    expect(lastStopped).toBeLessThan(firstStopped)
    expect(result.stderr).toMatch(/stopping 3 stage\(s\), last first: done/)
  })

  it('a libswarm child (exec --libswarm) killed with SIGKILL is reported under its name; the rest stop; exit 1', async () => {
    using dir = fixtureDir()
    const swarmd = start(
      ['recorder', `exec --libswarm --cwd ${SWARMD_DIR} -- node --import tsx ${WORKER}`, 'recorder'],
      {
        cwd: dir.path,
      },
    )
    const [, pid] = (await swarmd.waitFor(/^\[exec\] pid=(\d+)$/m, 20_000)) as unknown as [string, string]
    try {
      // Kill it once the whole pipeline runs (its pid is printed during its own Start).
      await swarmd.waitFor(/starting recorder#2: done/)
      process.kill(Number(pid), 'SIGKILL')
      const result = await swarmd.exited()
      expect(result.code).toBe(1)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      expect(result.stderr).toMatch(
        /^\[exec\] error: \[adapter-exec\] node \(pid \d+\) was killed by SIGKILL$/m,
      )
      expect(lineIndex(result.stderr, /^\[recorder#2\] got Stop$/)).toBeLessThan(
        lineIndex(result.stderr, /^\[recorder\] got Stop$/),
      )
      expect(await waitUntilGone([Number(pid)])).toEqual([])
    } finally {
      kill(Number(pid))
      if (swarmd.child.exitCode === null) swarmd.child.kill('SIGKILL')
    }
  })
})

describe('a stage that cannot be spawned or started', () => {
  it('an adapter whose spawn throws: its name and error, exit 1, no stack trace', async () => {
    using dir = fixtureDir()
    const result = await run(['recorder', 'boom', 'recorder'], { cwd: dir.path })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^\[boom\] error: kaboom while spawning$/m)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    // Nothing was started, so nothing is stopped.
    expect(result.stderr).not.toMatch(/got (Start|Stop)/)
  })

  it('a stage whose Start fails: its name and error; the stages started before it get Stop, last first; their processes end; exit 1', async () => {
    using dir = fixtureDir()
    const result = await run(
      ['exec -- sh -c "echo pid=$$; exec sleep 30"', 'recorder', 'recorder fail-start'],
      { cwd: dir.path },
    )
    const pid = Number(result.stderr.match(/^\[exec\] pid=(\d+)$/m)?.[1])
    try {
      expect(result.code).toBe(1)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      expect(result.stderr).toMatch(/^\[recorder#2\] error: refuses to start: no coffee$/m)
      const failed = lineIndex(result.stderr, /^\[recorder#2\] got Start$/)
      const stopped = lineIndex(result.stderr, /^\[recorder\] got Stop$/)
      expect(failed).toBeLessThan(stopped)
      expect(pid).toBeGreaterThan(0)
      expect(await waitUntilGone([pid])).toEqual([])
    } finally {
      if (pid > 0 && processAlive(pid)) kill(pid)
    }
  })

  it('an exec stage whose command does not exist: its name and why, exit 1', async () => {
    using dir = fixtureDir()
    const result = await run(['recorder', 'exec -- /nonexistent/no-such-command', 'recorder'], {
      cwd: dir.path,
    })
    expect(result.code).toBe(1)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(result.stderr).toMatch(/^\[exec\] error: .*no-such-command/m)
    expect(result.stderr).not.toMatch(/^\[recorder(#2)?\] error:/m)
  })
})
