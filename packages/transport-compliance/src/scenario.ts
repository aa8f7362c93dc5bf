/** A request/response scenario with byte streams both ways, run across a real session (e.g. through a proxy). */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipe, type Receiver, type Sender, type Session } from '@libswarm/core'
import { expect } from 'vitest'

const bounded = (ms = 10_000) => ({ signal: AbortSignal.timeout(ms) })

interface Question {
  text: string
  body: Readable
  reply: Sender<{ answer: string; bytes: number; sha: string; back: Readable }>
}

/**
 * The libchan request/response pattern across a real session: the client sends a message carrying
 * a byte stream and a return Sender; the server answers on that Sender with a byte stream of its own.
 */
export async function requestResponse(
  client: Session,
  server: Session,
  size = 4 * 1024 * 1024,
): Promise<void> {
  const payload = Buffer.alloc(size)
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff
  const serving = (async () => {
    const rx: Receiver<Question> = await server.accept<Question>(bounded())
    const q = await rx.receive(bounded())
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of q.body) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    await q.reply.send({
      answer: `you asked: ${q.text}`,
      bytes,
      sha: hash.digest('hex'),
      back: Readable.from([Buffer.from('bytes '), Buffer.from('from the server')]),
    })
    await q.reply.close()
  })()

  const tx = client.open<Question>()
  const [answers, reply] = pipe<{ answer: string; bytes: number; sha: string; back: Readable }>()
  await tx.send({ text: 'ping?', body: Readable.from(chunks(payload, 64 * 1024)), reply }, bounded())
  const answer = await answers.receive(bounded())
  expect(answer.answer).toBe('you asked: ping?')
  expect(answer.bytes).toBe(size)
  expect(answer.sha).toBe(createHash('sha256').update(payload).digest('hex'))
  let back = ''
  for await (const chunk of answer.back) back += chunk
  expect(back).toBe('bytes from the server')
  await serving
  await tx.close()
}

function* chunks(buffer: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size)
}
