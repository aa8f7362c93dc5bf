import { describe, expect, it } from 'vitest'
import { FIXTURE_ADAPTER, processAlive, run, start, tempDir, waitUntilGone, writeFiles } from './helpers.ts'

describe('a pipeline driven through cli from stdin', () => {
  it('runs cli debug simulator: spawns, lists, describes, then stops cleanly at the end of input', async () => {
    const result = await run(['cli', 'debug', 'simulator'], {
      input: 'spawn --name web busybox\nls\nstart web\nget web\n',
    })
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^spawned --name web busybox$/m)
    expect(result.stdout).toMatch(/^web$/m) // the ls output
    expect(result.stdout).toMatch(/^started web$/m)
    expect(result.stdout).toMatch(/"state": "running"/) // get web
    // debug, the middle stage, printed the verbs passing through it.
    expect(result.stderr).toMatch(/\[debug\] -> Spawn/)
    expect(result.stderr).toMatch(/\[debug\] -> Ls/)
    // Stopping went last first and finished.
    expect(result.stderr).toMatch(/stopping 3 stage\(s\), last first: done/)
  })

  it('answers bad lines with a message and carries on', async () => {
    const result = await run(['cli', 'simulator'], {
      input: 'frobnicate\nls extra words\nget "unterminated\nattach nosuch\nspawn --name db busybox\nls\n',
    })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('unknown command "frobnicate"; type "help" for the list')
    expect(result.stderr).toContain('error: usage: ls')
    expect(result.stderr).toContain('unterminated double quote')
    expect(result.stderr).toMatch(/error: .*nosuch/)
    expect(result.stdout).toMatch(/^db$/m) // the prompt survived every bad line
  })

  it('quit stops swarmd with exit code 0 without reading further', async () => {
    const result = await run(['cli', 'simulator'], { input: 'quit\nspawn --name late busybox\n' })
    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain('spawned')
  })

  it('prints a stage log line with the stage name, and JSON lines with --log-format json', async () => {
    using dir = tempDir()
    writeFiles(dir.path, { 'echo.mjs': FIXTURE_ADAPTER, 'swarmd.config.json': '{"adapters":["./echo.mjs"]}' })
    const text = await run(['cli', 'echo'], { cwd: dir.path, input: 'ls\n' })
    expect(text.code).toBe(0)
    expect(text.stderr).toContain('[echo] echo spawned with []')
    const json = await run(['--log-format', 'json', 'cli', 'echo'], { cwd: dir.path, input: 'ls\n' })
    expect(json.code).toBe(0)
    const lines = json.stderr.trim().split('\n')
    expect(lines.length).toBeGreaterThan(2)
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(parsed).toContainEqual(
      expect.objectContaining({ stage: 'echo', msg: 'echo spawned with []', level: 'info' }),
    )
    expect(parsed).toContainEqual(expect.objectContaining({ progress: 'done' }))
  })

  it('prints what debug prints as JSON lines too, under its stage name', async () => {
    const json = await run(['--log-format', 'json', 'cli', 'debug', 'simulator'], { input: 'ls\n' })
    expect(json.code).toBe(0)
    const parsed = json.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(parsed).toContainEqual(expect.objectContaining({ stage: 'debug', msg: '-> Ls [] +ret' }))
    const text = await run(['cli', 'debug', 'simulator'], { input: 'ls\n' })
    expect(text.stderr).toMatch(/^\[debug\] -> Ls \[\] \+ret$/m)
  })
})

describe('a pipeline that cannot start', () => {
  it('prints the backend usage line for a bad argument, exit 2', async () => {
    using dir = tempDir()
    writeFiles(dir.path, { 'echo.mjs': FIXTURE_ADAPTER, 'swarmd.config.json': '{"adapters":["./echo.mjs"]}' })
    const result = await run(['cli', 'picky nope'], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('picky wants exactly "ok"')
    expect(result.stderr).toContain('usage: picky ok')
  })

  it('prints the usage line of a real adapter given a bad option, exit 2', async () => {
    const result = await run(['simulator --no-such-option'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/usage: simulator/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('signals', () => {
  it('SIGTERM stops every stage, last first, and exits 0', async () => {
    const swarmd = start(['debug', 'simulator'])
    await swarmd.waitFor(/starting simulator: done/)
    swarmd.child.kill('SIGTERM')
    const result = await swarmd.exited()
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('terminated: stopping')
    expect(result.stderr).toMatch(/stopping 2 stage\(s\), last first: done/)
    // Stop went to simulator (through debug) before debug itself.
    const stops = [...result.stderr.matchAll(/\[debug\] -> Stop/g)]
    expect(stops.length).toBeGreaterThan(0)
  })

  it('SIGINT stops cleanly, exit 0', async () => {
    const swarmd = start(['simulator'])
    await swarmd.waitFor(/starting simulator: done/)
    swarmd.child.kill('SIGINT')
    const result = await swarmd.exited()
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('interrupted: stopping')
  })

  it('a second SIGINT while stopping exits at once with code 130', async () => {
    // A child that ignores SIGTERM: stopping it takes the whole --grace (20 s) unless swarmd is told again.
    const swarmd = start([
      `exec --grace 20000 -- sh -c 'trap "" TERM; echo pid=$$; while :; do sleep 1; done'`,
    ])
    const [, pid] = (await swarmd.waitFor(/\[exec\] pid=(\d+)/)) as unknown as [string, string]
    try {
      swarmd.child.kill('SIGINT')
      await swarmd.waitFor(/interrupted: stopping/)
      const sent = Date.now()
      swarmd.child.kill('SIGINT')
      const result = await swarmd.exited(10_000)
      expect(result.code).toBe(130)
      expect(result.stderr).toContain('second interrupt: exiting now')
      expect(Date.now() - sent).toBeLessThan(5_000)
    } finally {
      for (const target of [-Number(pid), Number(pid)]) {
        try {
          process.kill(target, 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
  })

  it('SIGTERM stops a real child process (exec) and leaves none behind', async () => {
    const swarmd = start(['exec -- sh -c "echo pid=$$; exec sleep 30"'])
    const [, pid] = (await swarmd.waitFor(/\[exec\] pid=(\d+)/)) as unknown as [string, string]
    expect(processAlive(Number(pid))).toBe(true)
    swarmd.child.kill('SIGTERM')
    const result = await swarmd.exited()
    expect(result.code).toBe(0)
    expect(await waitUntilGone([Number(pid)])).toEqual([])
  })
})

describe('a stage that fails while running', () => {
  it('prints the stage name and its error, exit 1', async () => {
    const result = await run(['exec -- sh -c "echo about to fail; exit 3"'], { input: undefined })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('[exec] about to fail')
    expect(result.stderr).toMatch(/\[exec\] error: .*exited with code 3/)
  })
})
