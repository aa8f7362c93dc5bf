/**
 * The in-memory channel demo: request/response with a return channel, a channel sent inside a
 * channel, and a byte stream inside a message. Run it with `pnpm demo`.
 */
import { Readable } from 'node:stream'
import { pipe, type Receiver, type Sender } from '@libswarm/core'

type Request = { op: 'upper' | 'subscribe'; text?: string; reply: Sender<unknown> }

async function server(requests: Receiver<Request>): Promise<void> {
  for await (const request of requests) {
    if (request.op === 'upper') {
      await request.reply.send(request.text?.toUpperCase())
      await request.reply.close()
    } else {
      // Answer with a byte stream and a fresh channel of ticks, both inside one message.
      const [ticks, tickSender] = pipe<number>()
      await request.reply.send({ body: Readable.from(['hello ', 'from ', 'a byte stream']), ticks })
      for (let i = 1; i <= 3; i++) await tickSender.send(i)
      await tickSender.close()
      await request.reply.close()
    }
  }
}

const [requests, client] = pipe<Request>()
const serving = server(requests)

const [answer, reply] = pipe<unknown>()
await client.send({ op: 'upper', text: 'channels can carry channels', reply })
console.log('upper ->', await answer.receive())

const [subscription, subReply] = pipe<{ body: Readable; ticks: Receiver<number> }>()
await client.send({ op: 'subscribe', reply: subReply as Sender<unknown> })
const { body, ticks } = await subscription.receive()
let text = ''
for await (const chunk of body) text += chunk
console.log('stream ->', text)
for await (const tick of ticks) console.log('tick ->', tick)

await client.close()
await serving
console.log('done: every channel closed cleanly')
