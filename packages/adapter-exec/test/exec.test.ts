import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { scenarios } from '@libswarm/adapter-compliance'
import { Client, type Message, pipe, type Receiver, type Service } from '@libswarm/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { execService, type ProcInfo, parseExecArgs } from '../src/index.ts'

const node = process.execPath
const signal = () => AbortSignal.timeout(10_000)

/** True while a process with this pid exists (a zombie counts: it still has a pid). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** `ps` lines of the processes in a process group. */
function group(pgid: number): string[] {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,pgid=,stat=,comm='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && Number(line.split(/\s+/)[1]) === pgid)
}

/**
 * Zombie children of this (test) process. A child that exited a moment ago is one until this
 * process's event loop reaps it, so tests poll (bounded) for none left rather than read it once.
 */
function zombies(): string[] {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, stat]) => Number(ppid) === process.pid && stat?.startsWith('Z'))
    .map((fields) => fields.join(' '))
}

async function logLines(logs: Receiver<Message>, count: number): Promise<string[]> {
  const lines: string[] = []
  while (lines.length < count) {
    const message = await logs.receive({ signal: signal() })
    if (message.verb === 'Log') lines.push(...message.args)
  }
  return lines
}

async function waitForState(client: Client, state: string): Promise<ProcInfo> {
  const deadline = signal()
  for (;;) {
    const info = await client.get<ProcInfo>()
    if (info.state === state) return info
    if (deadline.aborted) throw new Error(`state stayed ${info.state}, expected ${state}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.each(scenarios)('exec ($name)', ({ connect }) => {
  const controllers: AbortController[] = []
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort()
  })

  async function run(
    command: string,
    args: string[],
    options: { grace?: number } = {},
  ): Promise<{ client: Client; logs: Receiver<Message>; service: Service }> {
    const controller = new AbortController()
    controllers.push(controller)
    const [logs, out] = pipe<Message>({ highWaterMark: 1024 })
    const { service } = execService({ command, args, out, signal: controller.signal, ...options })
    const remote = await connect(service, controller.signal)
    return { client: new Client(remote, { timeout: 10_000 }), logs, service: remote }
  }

  it('runs a command on Start and sends its stdout and stderr lines as Log', async () => {
    const { client, logs } = await run(node, ['-e', 'console.log("one\\ntwo"); console.error("three")'])
    expect(await client.get()).toMatchObject({ state: 'created', pid: null, exitCode: null })
    await client.start()
    expect((await logLines(logs, 3)).sort()).toEqual(['one', 'three', 'two'])
    const info = await waitForState(client, 'exited')
    expect(info).toMatchObject({ exitCode: 0, signal: null, stopped: false, starts: 1 })
    expect(info.pid).toBeGreaterThan(0)
  })

  it('passes arguments as they are, never through a shell', async () => {
    const { client, logs } = await run('echo', ['$(whoami)', '; ls', '*', '`id`'])
    await client.start()
    expect(await logLines(logs, 1)).toEqual(['$(whoami) ; ls * `id`'])
  })

  it('stops a running command with SIGTERM and leaves no process behind', async () => {
    const { client } = await run(node, ['-e', 'setInterval(() => {}, 1000)'])
    await client.start()
    const running = await client.get<ProcInfo>()
    expect(running.state).toBe('running')
    const pid = running.pid!
    expect(exists(pid)).toBe(true)
    await client.stop()
    const info = await client.get<ProcInfo>()
    expect(info).toMatchObject({ state: 'exited', signal: 'SIGTERM', exitCode: null, stopped: true })
    expect(exists(pid)).toBe(false)
    expect(group(pid)).toEqual([])
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('kills with SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const { client, logs } = await run(
      node,
      [
        '-e',
        'process.on("SIGTERM", () => console.log("ignoring")); console.log("ready"); setInterval(() => {}, 1000)',
      ],
      { grace: 300 },
    )
    await client.start()
    expect(await logLines(logs, 1)).toEqual(['ready'])
    const { pid } = await client.get<ProcInfo>()
    const started = Date.now()
    await client.stop()
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    expect(await client.get()).toMatchObject({ state: 'exited', signal: 'SIGKILL', stopped: true })
    expect(exists(pid!)).toBe(false)
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('stops what the command started too (its whole process group)', async () => {
    const { client, logs } = await run('sh', ['-c', 'sleep 30 & sleep 30 & echo started; wait'])
    await client.start()
    expect(await logLines(logs, 1)).toEqual(['started'])
    const { pid } = await client.get<ProcInfo>()
    expect(group(pid!).length).toBeGreaterThanOrEqual(3)
    await client.stop()
    await expect.poll(() => group(pid!), { timeout: 5000 }).toEqual([])
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('reports a crash as an Error message and in Get, and leaves no zombie', async () => {
    const { client, logs } = await run(node, ['-e', 'console.log("bye"); process.exit(3)'])
    await client.start()
    const messages: Message[] = []
    while (!messages.some((m) => m.verb === 'Error')) messages.push(await logs.receive({ signal: signal() }))
    const error = messages.find((m) => m.verb === 'Error')!
    expect(error.args[0]).toMatch(/^\[adapter-exec\] node \(pid \d+\) exited with code 3$/)
    expect(error.args[1]).toBe('EXITED')
    const info = await waitForState(client, 'exited')
    expect(info).toMatchObject({ exitCode: 3, stopped: false })
    expect(exists(info.pid!)).toBe(false)
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('refuses a second Start while running, and runs again after it exited', async () => {
    const { client } = await run(node, ['-e', 'setTimeout(() => {}, 200)'])
    await client.start()
    await expect(client.start()).rejects.toMatchObject({
      name: 'ConflictError',
      message: expect.stringMatching(/already running \(pid \d+\); Stop it first/),
    })
    await waitForState(client, 'exited')
    await client.start()
    expect(await client.get()).toMatchObject({ starts: 2 })
    await client.stop()
  })

  it('Watch reports start and stop', async () => {
    const { client } = await run(node, ['-e', 'setInterval(() => {}, 1000)'])
    const events = await client.watch([], { signal: signal() })
    await client.start()
    await client.stop()
    const start = await events.receive({ signal: signal() })
    const stop = await events.receive({ signal: signal() })
    events.cancel()
    expect(start).toMatchObject({ type: 'start', name: 'node', state: 'running' })
    expect(stop).toMatchObject({
      type: 'stop',
      name: 'node',
      state: 'exited',
      signal: 'SIGTERM',
      stopped: true,
    })
  })

  it('Connect gives its stdio as a byte stream', async () => {
    const { client, logs } = await run('cat', [])
    await expect(client.connect()).rejects.toMatchObject({ name: 'UnavailableError' })
    await client.start()
    const stream = (await client.connect()) as Duplex
    const received = new Promise<string>((resolve, reject) => {
      let text = ''
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.endsWith('\n')) resolve(text)
      })
      stream.on('error', reject)
      signal().addEventListener('abort', () => reject(new Error('nothing came back within 10 s')))
    })
    stream.write('hello through cat\n')
    expect(await received).toBe('hello through cat\n')
    expect(await logLines(logs, 1)).toEqual(['hello through cat'])
    stream.end() // closes cat's stdin: cat exits 0
    expect(await waitForState(client, 'exited')).toMatchObject({ exitCode: 0 })
  })

  it('answers a command that disappeared before Start with NotFound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapter-exec-'))
    try {
      const script = join(dir, 'gone.sh')
      await writeFile(script, '#!/bin/sh\necho hi\n', { mode: 0o755 })
      const { client } = await run(script, [])
      await unlink(script)
      await expect(client.start()).rejects.toMatchObject({
        name: 'NotFoundError',
        message: expect.stringMatching(/command not found: .*gone\.sh.*\(ENOENT\)/),
      })
      expect(await client.get()).toMatchObject({ state: 'created', pid: null })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('exec: bad commands', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adapter-exec-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a command that is not in PATH, naming it', () => {
    expect(() => execService({ command: 'no-such-command-libswarm' })).toThrowError(
      expect.objectContaining({
        name: 'NotFoundError',
        message: expect.stringMatching(/command not found: "no-such-command-libswarm" is not in PATH/),
      }),
    )
  })

  it('refuses a path that does not exist', () => {
    expect(() => execService({ command: join(dir, 'nope') })).toThrow(/command not found: .*no such file/)
  })

  it('refuses a file that is not executable (EACCES) and says how to fix it', async () => {
    const script = join(dir, 'plain.sh')
    await writeFile(script, '#!/bin/sh\necho hi\n')
    await chmod(script, 0o644)
    expect(() => execService({ command: script })).toThrowError(
      expect.objectContaining({
        name: 'UnauthorizedError',
        message: expect.stringMatching(/permission denied \(EACCES\).*chmod \+x/),
      }),
    )
  })

  it('refuses a working directory that does not exist (not reported as a missing command)', () => {
    expect(() => execService({ command: 'true', cwd: join(dir, 'nope') })).toThrowError(
      expect.objectContaining({
        name: 'InvalidArgumentError',
        message: expect.stringMatching(/working directory ".*nope" does not exist/),
      }),
    )
  })

  it('answers an argument Node refuses with a clear Error', async () => {
    const { service } = execService({ command: 'echo', args: ['a\u0000b'] })
    await expect(new Client(service).start()).rejects.toMatchObject({ name: 'InvalidArgumentError' })
  })

  it('refuses a directory', () => {
    expect(() => execService({ command: dir })).toThrow(/is not a file/)
  })
})

describe('parseExecArgs', () => {
  it('reads options up to the command, and passes the rest unchanged', () => {
    expect(parseExecArgs(['--name', 'web', '--grace=100', 'node', '--inspect', 'a b'])).toEqual({
      command: 'node',
      args: ['--inspect', 'a b'],
      name: 'web',
      grace: 100,
      cwd: undefined,
      libswarm: false,
      ipc: false,
    })
    expect(parseExecArgs(['--', '--weird', 'x'])).toMatchObject({
      command: '--weird',
      args: ['x'],
      name: '--weird',
    })
    expect(parseExecArgs(['/usr/bin/env'])).toMatchObject({ name: 'env' })
    expect(parseExecArgs(['--libswarm', '--ipc', 'node', 'w.js'])).toMatchObject({
      libswarm: true,
      ipc: true,
    })
  })

  it('rejects bad arguments with the usage', () => {
    expect(() => parseExecArgs([])).toThrow(/missing the command to run; usage: exec/)
    expect(() => parseExecArgs(['--grace', 'x', 'ls'])).toThrow(/--grace needs a number/)
    expect(() => parseExecArgs(['--bogus', 'ls'])).toThrow(/unknown option "--bogus"/)
    expect(() => parseExecArgs(['--name'])).toThrow(/--name needs a value/)
    expect(() => parseExecArgs(['--ipc', 'node'])).toThrow(/--ipc goes with --libswarm/)
  })
})
