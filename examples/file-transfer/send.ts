/**
 * Sends a file as a byte stream inside a message, and checks the receipt against its own sha256.
 *
 *   npx tsx file-transfer/send.ts tcp://127.0.0.1:4000 ./big.iso
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { connect, pipe } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { unix } from '@libswarm/transport-unix'
import type { Offer, Receipt } from './protocol.ts'

const [url, file] = process.argv.slice(2)
if (!url || !file) {
  console.error('usage: send.ts URL FILE')
  process.exit(2)
}

const { size } = await stat(file)
const session = await connect(url, { transports: [tcp(), unix()], signal: AbortSignal.timeout(10_000) })
const offers = session.open<Offer>()
const [receipts, reply] = pipe<Receipt>()

const started = performance.now()
// The file's bytes travel as a byte stream the session opens next to the channel: flow-controlled,
// so neither side holds more than a window of it in memory.
await offers.send({ name: basename(file), size, body: createReadStream(file), reply })
const receipt = await receipts.receive({ signal: AbortSignal.timeout(120_000) })
const seconds = (performance.now() - started) / 1000
await session.close()

if (!receipt.ok) {
  console.error(`the receiver failed: ${receipt.error}`)
  process.exit(1)
}
const local = createHash('sha256')
await pipeline(createReadStream(file), local)
const sha256 = local.digest('hex')
if (receipt.bytes !== size || receipt.sha256 !== sha256) {
  console.error(`mismatch: sent ${size} bytes ${sha256}, received ${receipt.bytes} bytes ${receipt.sha256}`)
  process.exit(1)
}
const mib = size / 2 ** 20
console.log(
  `sent ${basename(file)}: ${size} bytes in ${seconds.toFixed(2)} s (${(mib / seconds).toFixed(1)} MiB/s), sha256 ${sha256} matches`,
)
