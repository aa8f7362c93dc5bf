import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, connect as netConnect, type Server } from 'node:net'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, type Link, TimeoutError, UnavailableError } from '@libswarm/core'
import {
  checkToken,
  formatAddress,
  formatUrl,
  parseHostPort,
  QueueListener,
  socketLink,
  socketReady,
} from '@libswarm/core/node'
import { afterEach, describe, expect, it } from 'vitest'

const src = fileURLToPath(new URL('../src/', import.meta.url))

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

function fakeLink(): Link & { destroyed: boolean } {
  return {
    peer: { transport: 'test', address: 'here' },
    destroyed: false,
    start() {},
    write: () => true,
    end() {},
    destroy() {
      this.destroyed = true
    },
  }
}

describe('@libswarm/core/node', () => {
  it('is not reachable from the browser-safe main entry', () => {
    const outside = files(src).filter((file) => !relative(src, file).startsWith('node/'))
    for (const file of outside) {
      expect(readFileSync(file, 'utf8'), relative(src, file)).not.toMatch(/from '(\.\.?\/)+node\//)
    }
  })

  it('parses and formats host:port URLs with clear errors', () => {
    expect(parseHostPort('transport-x', new URL('tcp://[::1]:80'), ['tcp'])).toEqual({
      host: '::1',
      port: 80,
    })
    expect(() => parseHostPort('transport-x', new URL('tls://a:1'), ['tcp'])).toThrow(InvalidArgumentError)
    expect(() => parseHostPort('transport-x', new URL('tcp://a'), ['tcp'])).toThrow(/has no port/)
    expect(formatUrl('tcp', '::1', 5).href).toBe('tcp://[::1]:5')
    expect(formatAddress('10.0.0.1', 7)).toBe('10.0.0.1:7')
  })

  it('admits a link only when authenticate accepts its peer', async () => {
    const listener = new QueueListener(new URL('test://x'), async () => {})
    const refused = fakeLink()
    const thrown = fakeLink()
    const accepted = fakeLink()
    listener.admit(refused, () => false)
    listener.admit(thrown, () => {
      throw new Error('no')
    })
    listener.admit(accepted, async (peer) => peer.address === 'here')
    const it = listener[Symbol.asyncIterator]()
    const next = await it.next()
    expect(next.value).toBe(accepted)
    expect(refused.destroyed && thrown.destroyed).toBe(true)
    await listener.close()
    expect((await it.next()).done).toBe(true)
  })

  it('checks bearer tokens and names the endpoint in refusals', async () => {
    expect(await checkToken('s3cret', 's3cret')).toEqual({ ok: true })
    expect(await checkToken('s3cret', 'nope', 'test endpoint')).toMatchObject({
      ok: false,
      message: 'the bearer token was refused by this test endpoint',
    })
    expect(await checkToken((t) => ({ user: t }), 'ann')).toEqual({ ok: true, identity: { user: 'ann' } })
  })

  describe('socketReady and socketLink over a real socket', () => {
    let server: Server | undefined
    afterEach(() => server?.close())

    it('connects, carries bytes, and maps errors, aborts and timeouts', async () => {
      server = createServer((socket) => socket.pipe(socket))
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
      const port = (server.address() as { port: number }).port
      const socket = netConnect({ port, host: '127.0.0.1' })
      await socketReady(socket, 'connect', { timeout: 5000 })
      const link = socketLink(socket, { transport: 'tcp', address: formatAddress('127.0.0.1', port) })
      const echoed = new Promise<Uint8Array>((resolve) =>
        link.start({ data: resolve, end() {}, drain() {}, error() {}, close() {} }),
      )
      link.write(new Uint8Array([1, 2, 3]))
      expect([...(await echoed)]).toEqual([1, 2, 3])
      link.destroy()

      server.close()
      const refused = netConnect({ port, host: '127.0.0.1' })
      await expect(
        socketReady(refused, 'connect', {
          describe: (error) => new UnavailableError(`mapped ${error.code}`),
        }),
      ).rejects.toThrow('mapped ECONNREFUSED')

      const aborted = netConnect({ port, host: '127.0.0.1' })
      await expect(
        socketReady(aborted, 'connect', { signal: AbortSignal.abort(new Error('stop')) }),
      ).rejects.toThrow('stop')
      expect(aborted.destroyed).toBe(true)

      // A TCP server that never speaks TLS: 'secureConnect' never comes.
      const silent = createServer(() => {})
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      try {
        const slow = netConnect({ port: (silent.address() as { port: number }).port, host: '127.0.0.1' })
        await expect(socketReady(slow, 'secureConnect', { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError)
        expect(slow.destroyed).toBe(true)
      } finally {
        silent.close()
      }
    })
  })
})
