/**
 * A worker pool where workers register themselves: the pool listens, starts a few worker processes
 * (in real life they start anywhere and dial in), and every worker that connects sends the pool its
 * own job channel. The pool then hands out jobs round-robin and collects the results, each on the
 * reply channel its job carried.
 *
 *   npx tsx worker-pool/main.ts [workers=3] [jobs=12]
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { listen, pipe, type Sender } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import type { Job, Registration, Result } from './protocol.ts'

const workerCount = Number(process.argv[2] ?? 3)
const jobCount = Number(process.argv[3] ?? 12)

const listener = await listen('tcp://127.0.0.1:0', { transports: [tcp()] })
console.log(`pool listening on ${listener.url}`)

// Accept registrations: each session's first channel carries one Registration.
const workers: Registration[] = []
let registered = () => {}
const allRegistered = new Promise<void>((resolve) => (registered = resolve))
const accepting = (async () => {
  for await (const session of listener) {
    const registrations = await session.accept<Registration>({ signal: AbortSignal.timeout(10_000) })
    const registration = await registrations.receive({ signal: AbortSignal.timeout(10_000) })
    workers.push(registration)
    console.log(`registered ${registration.name}`)
    if (workers.length === workerCount) registered()
  }
})()

const worker = fileURLToPath(new URL('worker.ts', import.meta.url))
const children = Array.from({ length: workerCount }, (_, i) =>
  spawn(process.execPath, ['--import', 'tsx', worker, listener.url.href, `worker-${i + 1}`], {
    stdio: 'inherit',
  }),
)
const exited = children.map((child) => new Promise((resolve) => child.once('exit', resolve)))

const deadline = setTimeout(() => {
  console.error(`only ${workers.length} of ${workerCount} workers registered in 30 s`)
  process.exit(1)
}, 30_000)
await allRegistered
clearTimeout(deadline)

/** Sends one job to a worker and waits for its result. */
async function run(jobs: Sender<Job>, id: number): Promise<Result> {
  const [results, reply] = pipe<Result>()
  await jobs.send({ id, text: `job number ${id}`, reply })
  return results.receive({ signal: AbortSignal.timeout(10_000) })
}

const results = await Promise.all(
  Array.from({ length: jobCount }, (_, id) => run(workers[id % workers.length]!.jobs, id)),
)
for (const { id, worker, digest } of results)
  console.log(`job ${id} done by ${worker}: ${digest.slice(0, 16)}…`)

// Closing a worker's job channel is how the pool lets it go: its loop ends and it exits.
await Promise.all(workers.map((w) => w.jobs.close()))
await Promise.all(exited)
await listener.close()
await accepting.catch(() => {})
console.log(`done: ${results.length} jobs over ${workers.length} workers`)
