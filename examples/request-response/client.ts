/**
 * Request/response across processes: starts server.ts as a child process, connects to it over a
 * unix socket (or tcp:// when given `tcp`), sends requests that each carry a reply channel, prints
 * the answers, then stops the server.
 *
 *   npx tsx request-response/client.ts          # over unix://
 *   npx tsx request-response/client.ts tcp      # over tcp://
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { connect, pipe } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { unix } from '@libswarm/transport-unix'
import type { Call, Request, Response } from './protocol.ts'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-rr-'))
const listenUrl = process.argv[2] === 'tcp' ? 'tcp://127.0.0.1:0' : `unix://${join(dir, 'server.sock')}`

// Start the server the same way you would from a shell: `tsx server.ts URL`.
const server = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('server.ts', import.meta.url)), listenUrl],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
const url = await new Promise<string>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the server did not start within 20 s')), 20_000)
  server.once('exit', (code) => reject(new Error(`the server exited with code ${code}`)))
  createInterface({ input: server.stdout! }).on('line', (line) => {
    const match = /^listening on (\S+)/.exec(line)
    if (match) {
      clearTimeout(timer)
      resolve(match[1]!)
    }
  })
})
console.log(`server (pid ${server.pid}) is listening on ${url}`)

const session = await connect(url, { transports: [unix(), tcp()], signal: AbortSignal.timeout(10_000) })
const requests = session.open<Request>()

/** One call: a fresh reply channel per request, and wait for its one answer. */
async function call(request: Call): Promise<unknown> {
  const [answers, reply] = pipe<Response>()
  await requests.send({ ...request, reply })
  const response = await answers.receive({ signal: AbortSignal.timeout(5_000) })
  if (!response.ok) throw new Error(response.error)
  return response.value
}

console.log('add 2 40 ->', await call({ op: 'add', a: 2, b: 40 }))
console.log('upper ->', await call({ op: 'upper', text: 'channels carry channels' }))
// Calls in flight at once share the channel; each answer comes back on its own reply channel.
console.log('three at once ->', await Promise.all([1, 2, 3].map((n) => call({ op: 'add', a: n, b: n }))))

await session.close()
server.kill('SIGTERM')
await new Promise((resolve) => server.once('exit', resolve))
rmSync(dir, { recursive: true, force: true })
console.log('done')
