import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Run, run, start, tempDir, waitUntilGone } from './helpers.ts'

const servers: Run[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
  }
})

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0)
  } catch {
    return [] // ps exits 1 when there are none
  }
}

describe.each([
  { transport: 'tcp', url: () => 'tcp://127.0.0.1:0' },
  { transport: 'unix', url: (dir: string) => `unix://${join(dir, 'swarmd.sock')}` },
  { transport: 'ws', url: () => 'ws://127.0.0.1:0/swarm' },
  { transport: 'http2', url: () => 'http2://127.0.0.1:0/swarm' },
])('--listen on $transport with a second swarmd using remote', ({ transport, url }) => {
  it('drives the remote pipeline through a local cli, then SIGTERM leaves nothing behind', async () => {
    using dir = tempDir()
    const server = start(['--listen', url(dir.path), 'debug', 'simulator'])
    servers.push(server)
    const [, served] = (await server.waitFor(/serving the pipeline on (\S+)/)) as unknown as [string, string]
    expect(served).toMatch(new RegExp(`^${transport}://`))

    const client = await run(['cli', `remote ${served}`], {
      input: 'spawn --name web busybox\nls\nstart web\nget web\n',
    })
    expect(client.stderr).not.toMatch(/\n\s+at /)
    expect(client.code).toBe(0)
    expect(client.stdout).toMatch(/^web$/m)
    expect(client.stdout).toMatch(/"state": "running"/)
    // The verbs went through the remote pipeline's debug stage.
    await server.waitFor(/\[debug\] -> Spawn \["--name","web","busybox"\]/)
    await server.waitFor(/peer disconnected/)

    const children = childrenOf(server.child.pid!)
    server.child.kill('SIGTERM')
    const result = await server.exited()
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/stopping 2 stage\(s\), last first: done/)
    // Its helper processes (esbuild under tsx) end when it does; allow them a bounded moment.
    expect(await waitUntilGone(children)).toEqual([])
    if (transport === 'unix') expect(existsSync(join(dir.path, 'swarmd.sock'))).toBe(false)
  })
})

describe('remote errors', () => {
  it('a remote nobody listens on is a stage failure naming the URL, exit 1', async () => {
    using dir = tempDir()
    const result = await run(['cli', `remote unix://${join(dir.path, 'nobody.sock')}`])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('cannot reach a swarmd at unix://')
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('a remote without a URL prints the usage line, exit 2', async () => {
    const result = await run(['cli', 'remote'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('usage: remote URL')
  })

  it('--listen with a scheme swarmd has no transport for is bad usage, exit 2', async () => {
    const result = await run(['--listen', 'gopher://x', 'simulator'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no transport for "gopher://"')
  })

  it('the remote swarmd going away ends the local one with exit 1', async () => {
    const server = start(['--listen', 'tcp://127.0.0.1:0', 'simulator'])
    servers.push(server)
    const [, served] = (await server.waitFor(/serving the pipeline on (\S+)/)) as unknown as [string, string]
    const local = start(['simulator', `remote ${served}`])
    servers.push(local)
    await local.waitFor(/starting remote: done/)
    server.child.kill('SIGKILL')
    const result = await local.exited()
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/\[remote\].*session ended/)
  })
})
