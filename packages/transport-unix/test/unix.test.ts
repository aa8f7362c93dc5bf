import { execFileSync } from 'node:child_process'
import { closeSync } from 'node:fs'
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, UnavailableError } from '@libswarm/core'
import { accept, record } from '@libswarm/transport-compliance'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fdPassingAvailable, fdPassingUnavailableReason, unix } from '../src/index.ts'

let dir: string
const cleanups: Array<() => unknown> = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ls-unix-'))
})
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
  await rm(dir, { recursive: true, force: true })
})

const fdPassing = fdPassingAvailable()
if (!fdPassing && process.env.CI) {
  throw new Error(`[transport-unix] fd passing must work in CI: ${fdPassingUnavailableReason()}`)
}

describe.each([
  { name: 'fd-passing links', passFds: true },
  { name: 'plain Node sockets', passFds: false },
])('unix transport with $name', ({ passFds }) => {
  const skip = passFds && !fdPassing
  async function pair() {
    const transport = unix({ passFds })
    const listener = await transport.listen(new URL(`unix://${dir}/s.sock`))
    cleanups.push(() => listener.close())
    const dialed = await transport.dial(listener.url)
    const accepted = await accept(listener)
    cleanups.push(() => {
      dialed.destroy()
      accepted.destroy()
    })
    return { listener, client: record(dialed), server: record(accepted) }
  }

  it.skipIf(skip)('listens with mode 0600 and reports its path in listener.url', async () => {
    const listener = await unix({ passFds }).listen(new URL(`unix://${dir}/a.sock`))
    cleanups.push(() => listener.close())
    expect(listener.url.href).toBe(`unix://${dir}/a.sock`)
    const info = await stat(`${dir}/a.sock`)
    expect(info.isSocket()).toBe(true)
    expect(info.mode & 0o777).toBe(0o600)
    await listener.close()
    await expect(stat(`${dir}/a.sock`)).rejects.toThrow()
  })

  it.skipIf(skip)('honours a custom mode', async () => {
    const listener = await unix({ passFds, mode: 0o660 }).listen(new URL(`unix://${dir}/m.sock`))
    cleanups.push(() => listener.close())
    expect((await stat(`${dir}/m.sock`)).mode & 0o777).toBe(0o660)
  })

  it.skipIf(skip)('carries bytes both ways, half-closes, then closes', async () => {
    const { client, server } = await pair()
    expect(client.link.canPassFds).toBe(passFds)
    client.link.write(new TextEncoder().encode('hello '))
    client.link.writev!([new TextEncoder().encode('unix')])
    expect((await server.waitBytes(10)).toString()).toBe('hello unix')
    server.link.write(new TextEncoder().encode('back'))
    expect((await client.waitBytes(4)).toString()).toBe('back')
    client.link.end()
    await server.ended()
    server.link.end()
    await client.ended()
    expect((await client.finished()).kind).toBe('close')
    expect((await server.finished()).kind).toBe('close')
  })

  it.skipIf(skip)('moves 16 MB with backpressure and drain, intact and in order', async () => {
    const { client, server } = await pair()
    const size = 16 * 1024 * 1024
    const block = new Uint8Array(64 * 1024)
    for (let i = 0; i < block.length; i++) block[i] = (i * 7) & 0xff
    let sent = 0
    server.link.pause!()
    const pump = async () => {
      while (sent < size) {
        const ok = client.link.write(block.slice())
        sent += block.length
        if (!ok) {
          const before = client.drains
          await new Promise<void>((resolve, reject) => {
            const started = Date.now()
            const poll = () => {
              if (client.drains > before) resolve()
              else if (Date.now() - started > 10_000) reject(new Error('no drain within 10 s'))
              else setImmediate(poll)
            }
            poll()
          })
        }
      }
      client.link.end()
    }
    const pumping = pump()
    // While paused, the writer must stop at the high-water mark instead of queueing 16 MB.
    await new Promise((r) => setTimeout(r, 50))
    expect(sent).toBeLessThan(size)
    server.link.resume!()
    await pumping
    await server.ended(20_000)
    const all = server.bytes()
    expect(all.length).toBe(size)
    for (let i = 0; i < all.length; i += 4099) expect(all[i]).toBe(((i % block.length) * 7) & 0xff)
  })

  it.skipIf(skip)('destroy() closes at once and the peer sees the end', async () => {
    const { client, server } = await pair()
    client.link.destroy()
    expect((await client.finished()).kind).toBe('close')
    await server.ended()
  })

  it('a missing socket is an UnavailableError naming the path', async () => {
    const error = await unix({ passFds })
      .dial(new URL(`unix://${dir}/nope.sock`))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toContain(`${dir}/nope.sock`)
    expect((error as Error).message).toContain('no socket at that path')
  })

  it.skipIf(skip)('a live socket is refused; a stale socket file is replaced', async () => {
    const path = `${dir}/stale.sock`
    const live = createServer()
    await new Promise<void>((r) => live.listen(path, r))
    const refused = await unix({ passFds })
      .listen(new URL(`unix://${path}`))
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UnavailableError)
    expect((refused as Error).message).toContain('another server is listening')
    await new Promise<void>((r) => live.close(() => r()))
    // A stale file: a socket bound by a process that exited without removing it.
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      path,
    ])
    expect((await stat(path)).isSocket()).toBe(true)
    const listener = await unix({ passFds }).listen(new URL(`unix://${path}`))
    cleanups.push(() => listener.close())
    const link = await unix({ passFds }).dial(listener.url)
    link.destroy()
  })
})

describe('unix transport errors', () => {
  it.each([
    ['unix://relative/x.sock', 'three slashes'],
    ['tcp://127.0.0.1:1', 'expected unix:///'],
    [`unix:///${'x'.repeat(120)}`, 'at most 107'],
    ['unix:///tmp/%ZZ.sock', 'malformed %-escape'],
    ['unix:///tmp/a%00b.sock', 'NUL byte'],
  ])('rejects %s with InvalidArgumentError (%s)', async (url, message) => {
    const error = await unix()
      .dial(new URL(url))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidArgumentError)
    expect((error as Error).message).toContain(message)
  })

  it('refuses to listen over a file that is not a socket', async () => {
    await writeFile(`${dir}/plain`, 'x')
    const error = await unix()
      .listen(new URL(`unix://${dir}/plain`))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toContain('not a socket')
  })
})

describe.skipIf(!fdPassing)('file descriptors arrive with their bytes', () => {
  it('sends two files with two writes and gets each with its own bytes', async () => {
    const transport = unix()
    const listener = await transport.listen(new URL(`unix://${dir}/fd2.sock`))
    cleanups.push(() => listener.close())
    const dialed = await transport.dial(listener.url)
    const accepted = await accept(listener)
    cleanups.push(() => {
      dialed.destroy()
      accepted.destroy()
    })
    const arrivals: Array<{ text: string; fds: number[] }> = []
    const got = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fds did not arrive within 5 s')), 5000)
      accepted.start({
        data(chunk, fds) {
          arrivals.push({ text: Buffer.from(chunk).toString(), fds: fds ?? [] })
          if (arrivals.reduce((n, a) => n + a.fds.length, 0) >= 2) {
            clearTimeout(timer)
            resolve()
          }
        },
        end() {},
        error: reject,
        drain() {},
        close() {},
      })
    })
    dialed.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
    await writeFile(`${dir}/one.txt`, 'first file')
    await writeFile(`${dir}/two.txt`, 'second file')
    const one = await open(`${dir}/one.txt`, 'r')
    const two = await open(`${dir}/two.txt`, 'r')
    dialed.write(new TextEncoder().encode('A'), [one.fd])
    dialed.write(new TextEncoder().encode('B'), [two.fd])
    await got
    // The sender's copies can go: the receiver holds its own descriptors.
    await one.close()
    await two.close()
    const withFds = arrivals.filter((a) => a.fds.length > 0)
    expect(withFds.map((a) => a.text[0])).toEqual(['A', 'B'])
    const texts: string[] = []
    for (const a of withFds) {
      const fd = a.fds[0]!
      const handle = await open(`/proc/self/fd/${fd}`, 'r')
      texts.push((await handle.readFile()).toString())
      await handle.close()
      closeSync(fd)
    }
    expect(texts).toEqual(['first file', 'second file'])
  })
})
