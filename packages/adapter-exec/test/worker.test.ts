import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  type BackendContext,
  Client,
  handler,
  type Message,
  notImplementedMessage,
  replyAndClose,
  type Service,
} from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import { backend, serveParent, spawnWorker } from '../src/index.ts'

const node = process.execPath
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const workerFile = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function zombies(): string[] {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, stat]) => Number(ppid) === process.pid && stat?.startsWith('Z'))
    .map((fields) => fields.join(' '))
}

/** A next stage that records what reaches it and answers requests "not implemented". */
function recordingOut(): { out: Service; seen: Message[] } {
  const seen: Message[] = []
  const out = handler(async (message) => {
    seen.push(message)
    if (message.ret) await replyAndClose(message.ret, notImplementedMessage(message.verb))
  })
  return { out, seen }
}

const modes = [
  { mode: 'stdio', flags: ['--libswarm'] },
  { mode: 'ipc', flags: ['--libswarm', '--ipc'] },
]

describe.each(modes)('exec --libswarm over $mode', ({ mode, flags }) => {
  const controllers: AbortController[] = []
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort()
  })

  async function spawnFixture(extra: string[] = []) {
    const controller = new AbortController()
    controllers.push(controller)
    const { out, seen } = recordingOut()
    const lines: string[] = []
    const context: BackendContext = {
      out,
      signal: controller.signal,
      spawn: () => Promise.reject(new Error('unused')),
      log: (line) => lines.push(line),
    }
    const args = [
      ...flags,
      '--cwd',
      packageDir,
      '--grace',
      '1000',
      node,
      '--import',
      'tsx',
      workerFile,
      ...extra,
    ]
    const service = await backend.spawn(args, context)
    return { client: new Client(service, { timeout: 15_000 }), seen, lines, controller }
  }

  it('makes the child a remote service: verbs reach it, it logs through out, unknown verbs fall through', async () => {
    const { client, seen } = await spawnFixture()
    const info = await client.get<{ pid: number; state: string; mode: string }>()
    expect(info).toMatchObject({ state: 'created', mode })
    expect(info.pid).not.toBe(process.pid)
    expect(await client.ls()).toEqual(['a', 'b'])
    await client.start()
    expect(await client.get()).toMatchObject({ state: 'running' })
    await expect.poll(() => seen.map((m) => m.args[0]), { timeout: 10_000 }).toContain('worker started')
    // console.log in the child went to its stderr, which comes back as Log, and did not break the session.
    await expect
      .poll(() => seen.map((m) => m.args[0]), { timeout: 10_000 })
      .toContain('printed with console.log: must not corrupt the session')
    await expect(client.call('Watch')).rejects.toMatchObject({ name: 'NotImplementedError' })
    expect(seen.some((m) => m.verb === 'Watch')).toBe(true)
  })

  it('stops the child when the pipeline stops, leaving nothing behind', async () => {
    const { client, controller } = await spawnFixture()
    const { pid } = await client.get<{ pid: number }>()
    expect(exists(pid)).toBe(true)
    controller.abort()
    await expect.poll(() => exists(pid), { timeout: 10_000 }).toBe(false)
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('reports a crashed child as an Error, then answers every call with a clear Error', async () => {
    const { client, seen, lines } = await spawnFixture(['crash'])
    const { pid } = await client.get<{ pid: number }>()
    await client.start()
    await expect
      .poll(() => seen.find((m) => m.verb === 'Error')?.args, { timeout: 10_000 })
      .toEqual([`[adapter-exec] node (pid ${pid}) exited with code 7`, 'EXITED'])
    expect(lines).toContain(`[adapter-exec] node (pid ${pid}) exited with code 7`)
    await expect(client.get()).rejects.toMatchObject({
      name: 'UnavailableError',
      message: `[adapter-exec] node (pid ${pid}) exited with code 7; spawn it again`,
    })
    expect(exists(pid)).toBe(false)
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('a child that dies while it handles a call: that call fails saying how the child ended', async () => {
    const { client, seen } = await spawnFixture(['die-in-start'])
    const { pid } = await client.get<{ pid: number }>()
    const death = `[adapter-exec] node (pid ${pid}) was killed by SIGKILL`
    await expect(client.start()).rejects.toMatchObject({ name: 'UnavailableError', message: death })
    await expect
      .poll(() => seen.find((m) => m.verb === 'Error')?.args, { timeout: 10_000 })
      .toEqual([death, 'EXITED'])
    expect(exists(pid)).toBe(false)
  })

  it('a child that dies long after it started: the call still says how the child ended', async () => {
    // The wait for the exit report starts when the pipes close, not when the child was spawned.
    const { client } = await spawnFixture(['die-in-start'])
    const { pid } = await client.get<{ pid: number }>()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await expect(client.start()).rejects.toMatchObject({
      name: 'UnavailableError',
      message: `[adapter-exec] node (pid ${pid}) was killed by SIGKILL`,
    })
  })
})

describe('spawnWorker: children that do not speak libswarm', () => {
  it('fails clearly when the child exits before offering a service', async () => {
    const error = await spawnWorker({
      name: 'quitter',
      command: node,
      args: ['-e', 'process.exit(2)'],
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      name: 'UnavailableError',
      message: expect.stringMatching(
        /^\[adapter-exec\] quitter \(pid \d+\) exited with code 2 before it offered a service; a --libswarm command must call serveParent\(\)/,
      ),
    })
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('gives up after the handshake timeout and kills the child', async () => {
    const error = await spawnWorker({
      name: 'silent',
      command: node,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      handshakeTimeout: 500,
      grace: 500,
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({
      name: 'TimeoutError',
      message: expect.stringMatching(/silent \(pid \d+\) did not offer a service within 500 ms/),
    })
    const pid = Number(/\(pid (\d+)\)/.exec((error as Error).message)?.[1])
    expect(pid).toBeGreaterThan(0)
    expect(exists(pid)).toBe(false)
    await expect.poll(zombies, { timeout: 5000 }).toEqual([])
  })

  it('reports a command that cannot be run', async () => {
    await expect(
      spawnWorker({ name: 'x', command: '/nonexistent/libswarm-worker', args: [] }),
    ).rejects.toMatchObject({ name: 'NotFoundError', message: expect.stringMatching(/ENOENT/) })
  })

  it('serveParent refuses to run in a process exec did not start', async () => {
    await expect(serveParent(handler(() => {}))).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      message: expect.stringMatching(/not started by exec --libswarm \(LIBSWARM_EXEC is not set\)/),
    })
  })
})
