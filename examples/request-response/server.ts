/**
 * The server: listens on a URL (unix:// or tcp://) and answers every request on the reply channel
 * the request carries. Runs until SIGTERM or SIGINT, then closes what it accepted gracefully.
 *
 *   npx tsx request-response/server.ts unix:///tmp/rr.sock
 */
import { listen, type Receiver, type Session } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { unix } from '@libswarm/transport-unix'
import type { Request, Response } from './protocol.ts'

function answer(request: Request): Response {
  switch (request.op) {
    case 'add':
      return { ok: true, value: request.a + request.b }
    case 'upper':
      return { ok: true, value: request.text.toUpperCase() }
    default:
      return { ok: false, error: `unknown op ${(request as { op: unknown }).op}` }
  }
}

async function serveChannel(requests: Receiver<Request>): Promise<void> {
  for await (const request of requests) {
    await request.reply.send(answer(request))
    await request.reply.close()
  }
}

async function serveSession(session: Session): Promise<void> {
  // Every channel the client opens is a stream of requests; serve them side by side.
  const channels: Promise<void>[] = []
  for await (const channel of session) channels.push(serveChannel(channel as Receiver<Request>))
  await Promise.allSettled(channels)
}

const url = process.argv[2] ?? 'tcp://127.0.0.1:0'
const listener = await listen(url, { transports: [unix(), tcp()] })
const sessions = new Set<Session>()
const stop = async () => {
  await listener.close()
  await Promise.allSettled([...sessions].map((session) => session.close()))
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)

// The parent reads this line to learn the real address (a tcp port 0 becomes a real port).
console.log(`listening on ${listener.url}`)
for await (const session of listener) {
  sessions.add(session)
  void serveSession(session).finally(() => sessions.delete(session))
}
