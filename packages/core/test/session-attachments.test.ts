import { once } from 'node:events'
import { closeSync, fstatSync, openSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex, Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, DecodeError, encodeFrame, encodeHello, type Link, linkPair } from '../src/index.ts'
import { bounded, pairSessions } from './session-helpers.ts'

let dir: string | undefined
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

async function tempFile(content: string): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'swarm-att-'))
  const path = join(dir, 'f.txt')
  await writeFile(path, content)
  return path
}

async function readAll(stream: Readable): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += chunk
  return text
}

/**
 * A link pair that "passes" descriptors in-process: the receiver gets its own descriptor for the same
 * file (opened through /proc/self/fd, as SCM_RIGHTS would give it a new number), logged in `received`.
 */
function fdLinkPair(): [Link, Link, { passed: number[][]; received: number[] }] {
  const [a, b] = linkPair()
  const log = { passed: [] as number[][], received: [] as number[] }
  type FdEnd = Link & { deliver: (index: number, fds: number[]) => void }
  const wrap = (link: Link, other: () => FdEnd): FdEnd => {
    // linkPair turns each write into one data event, in order: the n-th write is the n-th event.
    const fdsAt = new Map<number, number[]>()
    let writes = 0
    let reads = 0
    const write = (chunk: Uint8Array, fds?: number[]) => {
      if (fds?.length) {
        log.passed.push(fds)
        other().deliver(writes, fds)
      }
      writes++
      return link.write(chunk)
    }
    return {
      peer: link.peer,
      canPassFds: true,
      deliver: (index, fds) => {
        const copies = fds.map((fd) => openSync(`/proc/self/fd/${fd}`, 'r'))
        log.received.push(...copies)
        fdsAt.set(index, copies)
      },
      start(h) {
        link.start({
          ...h,
          data: (chunk) => {
            const fds = fdsAt.get(reads)
            fdsAt.delete(reads++)
            h.data(chunk, fds)
          },
        })
      },
      write,
      writev(chunks) {
        for (const chunk of chunks) write(chunk)
        return true
      },
      end: () => link.end(),
      destroy: (e) => link.destroy(e),
    }
  }
  let wa: FdEnd | undefined
  let wb: FdEnd | undefined
  wa = wrap(a, () => wb!)
  wb = wrap(b, () => wa!)
  return [wa, wb, log]
}

describe('attachments', () => {
  it('without fd passing, a file is copied as bytes and arrives as a Readable', async () => {
    const path = await tempFile('file content, copied')
    const [client, server] = await pairSessions()
    const handle = await open(path, 'r')
    const tx = client.open<{ file: unknown }>()
    await tx.send({ file: handle })
    const rx = await server.accept<{ file: Readable }>(bounded())
    const { file } = await rx.receive(bounded())
    expect(await readAll(file)).toBe('file content, copied')
    await handle.close()
    client.abort('done')
  })

  it('without fd passing, a socket is carried as a duplex byte stream', async () => {
    const [client, server] = await pairSessions()
    const tcp = net.createServer((socket) => socket.on('data', (d) => socket.end(`echo: ${d}`)))
    tcp.listen(0, '127.0.0.1')
    await once(tcp, 'listening')
    const socket = net.connect((tcp.address() as net.AddressInfo).port, '127.0.0.1')
    await once(socket, 'connect')
    const tx = client.open<{ conn: net.Socket }>()
    await tx.send({ conn: socket })
    const rx = await server.accept<{ conn: Duplex }>(bounded())
    const { conn } = await rx.receive(bounded())
    conn.write('hi')
    expect(await readAll(conn as Readable)).toBe('echo: hi')
    tcp.close()
    client.abort('done')
  })

  it('over a link that passes descriptors, a file goes as its descriptor, not as bytes', async () => {
    const path = await tempFile('passed by descriptor')
    const [a, b, log] = fdLinkPair()
    const [client, server] = await Promise.all([
      createSession(a, { role: 'client' }),
      createSession(b, { role: 'server' }),
    ])
    const handle = await open(path, 'r')
    const tx = client.open<{ file: unknown; note: string }>()
    await tx.send({ file: handle, note: 'with fd' })
    const rx = await server.accept<{ file: Readable; note: string }>(bounded())
    const { file, note } = await rx.receive(bounded())
    expect(note).toBe('with fd')
    expect(log.passed).toEqual([[handle.fd]])
    expect(log.received).toHaveLength(1)
    expect((file as unknown as { fd: number }).fd).toBe(log.received[0])
    expect(await readAll(file)).toBe('passed by descriptor')
    await handle.close()
    client.abort('done')
  })

  it('when one end cannot pass descriptors, the hellos say so and the bytes are copied instead', async () => {
    const path = await tempFile('copied, not passed')
    const [a, b, log] = fdLinkPair()
    const plainB: Link = { ...b, canPassFds: false, start: (h) => b.start(h) }
    const [client, server] = await Promise.all([
      createSession(a, { role: 'client' }),
      createSession(plainB, { role: 'server' }),
    ])
    const handle = await open(path, 'r')
    const tx = client.open<{ file: unknown }>()
    await tx.send({ file: handle })
    const rx = await server.accept<{ file: Readable }>(bounded())
    const { file } = await rx.receive(bounded())
    expect(await readAll(file)).toBe('copied, not passed')
    expect(log.passed).toEqual([])
    await handle.close()
    client.abort('done')
  })
})

/** True when `fd` is an open descriptor of this process. */
function isOpen(fd: number): boolean {
  try {
    fstatSync(fd)
    return true
  } catch {
    return false
  }
}

describe('descriptors that arrive with a message are never leaked', () => {
  const fdRef = (kind: number) => [0xc7, 5, 4, 0, 0, 0, 0, 0x80 | kind] // ext: attachment, id 0, passed
  const hello = (passFds: boolean) =>
    encodeHello({
      status: 0,
      maxMessageSize: 1 << 20,
      streamWindow: 1 << 16,
      sessionWindow: 1 << 20,
      codecs: ['msgpack'],
      passFds,
    })

  /** A raw client (hello with or without the fd-passing bit) facing a server session, one channel open. */
  async function rawClient(passFds = true) {
    const [a, b, log] = fdLinkPair()
    a.start({ data() {}, end() {}, error() {}, drain() {}, close() {} })
    a.write(hello(passFds))
    const server = await createSession(b, { role: 'server', limits: { idleTimeout: 0 } })
    a.write(encodeFrame(1, 1, new Uint8Array([1])))
    const rx = await server.accept(bounded())
    const path = await tempFile('content')
    /** Writes `frame` with `count` fresh descriptors; the sender's own copies are closed at once. */
    const withFds = (frame: Uint8Array, count: number) => {
      const fds = Array.from({ length: count }, () => openSync(path, 'r'))
      a.write(frame, fds)
      for (const fd of fds) closeSync(fd)
    }
    const leaked = async () => {
      await new Promise((r) => setTimeout(r, 50))
      return log.received.filter(isOpen)
    }
    return { a, server, rx, log, withFds, leaked }
  }

  it('a message that fails to decode closes the descriptors it carried; the session carries on', async () => {
    const { a, server, rx, log, withFds, leaked } = await rawClient()
    // [passed file, passed file, 0xc1 (never used in msgpack)]
    withFds(encodeFrame(2, 1, new Uint8Array([0x93, ...fdRef(1), ...fdRef(1), 0xc1])), 2)
    await expect(rx.receive(bounded())).rejects.toBeInstanceOf(DecodeError)
    expect(log.received).toHaveLength(2)
    expect(await leaked()).toEqual([])
    // The session is fine: a new channel works.
    a.write(encodeFrame(1, 3, new Uint8Array([1])))
    a.write(encodeFrame(2, 3, new Uint8Array([0xa2, 0x68, 0x69])))
    const next = await server.accept(bounded())
    expect(await next.receive(bounded())).toBe('hi')
    server.abort('done')
  })

  it('descriptors no reference claims (more than referenced, or on a stream that is gone) are closed, and never given to a later message', async () => {
    const { a, server, rx, withFds, leaked } = await rawClient()
    withFds(encodeFrame(2, 1, new Uint8Array([0x91, ...fdRef(1)])), 2) // one reference, two descriptors
    const [file] = (await rx.receive(bounded())) as [Readable]
    expect(await readAll(file)).toBe('content')
    // DATA carrying a descriptor on a stream this side already cancelled.
    rx.cancel()
    withFds(encodeFrame(2, 1, new Uint8Array([0xc0])), 1)
    // A later message that references a descriptor it did not bring is a protocol error, not a stale fd.
    a.write(encodeFrame(1, 3, new Uint8Array([1])))
    a.write(encodeFrame(2, 3, new Uint8Array([0x91, ...fdRef(1)])))
    expect(await server.closed).toMatchObject({ name: 'ProtocolError' })
    expect(await leaked()).toEqual([])
  })

  it('descriptors sent when fd passing was not negotiated are closed; a passed reference is then a protocol error', async () => {
    const { server, rx, withFds, leaked } = await rawClient(false)
    withFds(encodeFrame(2, 1, new Uint8Array([0xa2, 0x68, 0x69])), 1)
    expect(await rx.receive(bounded())).toBe('hi')
    expect(await leaked()).toEqual([])
    withFds(encodeFrame(2, 1, new Uint8Array([0x91, ...fdRef(0)])), 1)
    expect(await server.closed).toMatchObject({ name: 'ProtocolError' })
    expect(await leaked()).toEqual([])
  })

  it('descriptors that arrive after the session ended are closed', async () => {
    const { server, withFds, leaked } = await rawClient()
    server.abort('gone')
    withFds(encodeFrame(2, 1, new Uint8Array([0xc0])), 1)
    expect(await leaked()).toEqual([])
  })
})
