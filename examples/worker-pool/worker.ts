/**
 * A self-registering worker: dials the pool, sends it a Sender of its own job channel, then does
 * every job that arrives on it. When the pool closes that channel, the worker disconnects and exits.
 *
 *   npx tsx worker-pool/worker.ts tcp://127.0.0.1:4000 worker-1
 */
import { createHash } from 'node:crypto'
import { connect, pipe } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import type { Job, Registration } from './protocol.ts'

const [url = 'tcp://127.0.0.1:4000', name = `worker-${process.pid}`] = process.argv.slice(2)

const session = await connect(url, { transports: [tcp()], signal: AbortSignal.timeout(10_000) })
const [jobs, jobsSender] = pipe<Job>()

// Register: the message carries the Sender end of our own channel across the session.
const registry = session.open<Registration>()
await registry.send({ name, jobs: jobsSender })
await registry.close()

for await (const job of jobs) {
  const digest = createHash('sha256').update(job.text).digest('hex')
  await job.reply.send({ id: job.id, worker: name, digest })
  await job.reply.close()
}
await session.close()
