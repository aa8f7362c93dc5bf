import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { fdPassingAvailable, fdPassingUnavailableReason } from '../src/index.ts'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))
const children: ChildProcess[] = []
let dir: string | undefined

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.pid) process.kill(child.pid)
  if (dir) await rm(dir, { recursive: true, force: true })
})

function start(script: string, ...args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, script), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return child
}

/** Resolves with the first stdout line matching `pattern`; bounded. */
function line(child: ChildProcess, pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms`)), ms)
    child.stdout!.on('data', (data: Buffer) => {
      buffer += data.toString()
      const match = buffer.match(pattern)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (!buffer.match(pattern)) reject(new Error(`process exited (${code}) before printing ${pattern}`))
    })
  })
}

function exited(child: ChildProcess, ms = 10_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${ms} ms`)), ms)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

if (!fdPassingAvailable() && process.env.CI) {
  throw new Error(`[transport-unix] fd passing must work in CI: ${fdPassingUnavailableReason()}`)
}

describe.skipIf(!fdPassingAvailable())('handing a TCP connection to another process', () => {
  it('A accepts, passes the descriptor to B over a unix link and exits; B then talks to the client', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-handover-'))
    const socketPath = join(dir, 'b.sock')
    const b = start('handover-b.ts', socketPath)
    await line(b, /ready/)
    const a = start('handover-a.ts', socketPath)
    const port = Number((await line(a, /port (\d+)/))[1])

    const client = connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
    })
    // A must be gone before the client says anything: whatever answers cannot be A.
    expect(await exited(a)).toBe(0)
    const answer = new Promise<string>((resolve, reject) => {
      let text = ''
      const timer = setTimeout(() => reject(new Error(`no answer within 10 s (got "${text}")`)), 10_000)
      client.on('data', (d) => (text += d.toString()))
      client.once('end', () => {
        clearTimeout(timer)
        resolve(text)
      })
      client.once('error', reject)
    })
    client.write('ping')
    expect(await answer).toBe(`pong from ${b.pid} for ping`)
    client.destroy()
    expect(await exited(b)).toBe(0)
  })

  it('through SESSIONS: A sends the accepted TCP connection inside a message to B, closes its copy and exits; B talks to the client', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-handover-'))
    const socketPath = join(dir, 'b.sock')
    const b = start('session-handover-b.ts', socketPath, 'fd')
    await line(b, /ready/)
    const a = start('session-handover-a.ts', socketPath)
    const port = Number((await line(a, /port (\d+)/))[1])
    const client = await dialTcp(port)
    expect((await line(a, /B says (.*)/))[1]).toBe('taken as a descriptor')
    expect(await exited(a)).toBe(0)
    expect(await ask(client, 'ping')).toBe(`pong from ${b.pid} for ping`)
    expect(await exited(b)).toBe(0)
  })
})

describe('fd passing is negotiated per session', () => {
  it('when B cannot receive descriptors (a plain unix link), the session copies the bytes through A instead', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-handover-'))
    const socketPath = join(dir, 'b.sock')
    const b = start('session-handover-b.ts', socketPath, 'plain')
    await line(b, /ready/)
    const a = start('session-handover-a.ts', socketPath)
    const port = Number((await line(a, /port (\d+)/))[1])
    const client = await dialTcp(port)
    expect((await line(a, /B says (.*)/))[1]).toBe('taken as a byte stream')
    expect(await ask(client, 'ping')).toBe(`pong from ${b.pid} for ping`)
    expect(await exited(b)).toBe(0)
    expect(await exited(a)).toBe(0)
  })
})

async function dialTcp(port: number): Promise<Socket> {
  const client = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return client
}

/** Writes `text` and resolves with everything the peer sends until it ends; bounded. */
function ask(client: Socket, text: string): Promise<string> {
  const answer = new Promise<string>((resolve, reject) => {
    let got = ''
    const timer = setTimeout(() => reject(new Error(`no answer within 10 s (got "${got}")`)), 10_000)
    client.on('data', (d) => (got += d.toString()))
    client.once('end', () => {
      clearTimeout(timer)
      client.destroy()
      resolve(got)
    })
    client.once('error', reject)
  })
  client.write(text)
  return answer
}
