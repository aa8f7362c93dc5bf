import { once } from 'node:events'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex, Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type Link, linkPair } from '../src/index.ts'
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

/** A link pair that "passes" descriptors in-process (the numbers stay valid in one process). */
function fdLinkPair(): [Link, Link, { passed: number[][] }] {
  const [a, b] = linkPair()
  const log = { passed: [] as number[][] }
  const wrap = (link: Link, other: () => Link & { deliver?: (fds: number[]) => void }): Link => {
    let handlers: Parameters<Link['start']>[0] | undefined
    const pendingFds: number[][] = []
    const self: Link & { deliver: (fds: number[]) => void } = {
      peer: link.peer,
      canPassFds: true,
      deliver: (fds) => void pendingFds.push(fds),
      start(h) {
        handlers = h
        link.start({
          ...h,
          data: (chunk) => h.data(chunk, pendingFds.shift()),
        })
      },
      write(chunk, fds) {
        if (fds?.length) {
          log.passed.push(fds)
          other().deliver?.(fds)
        }
        return link.write(chunk)
      },
      writev(chunks) {
        for (const chunk of chunks) link.write(chunk)
        return true
      },
      end: () => link.end(),
      destroy: (e) => link.destroy(e),
    }
    void handlers
    return self
  }
  // linkPair copies each write into one data event, so fds line up with the chunk they came with.
  let wa: Link & { deliver?: (fds: number[]) => void }
  let wb: Link & { deliver?: (fds: number[]) => void }
  wa = wrap(a, () => wb)
  wb = wrap(b, () => wa)
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
    expect((file as unknown as { fd: number }).fd).toBe(handle.fd)
    expect(await readAll(file)).toBe('passed by descriptor')
    client.abort('done')
  })
})
