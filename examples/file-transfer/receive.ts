/**
 * Receives files: listens on a URL and, for each offer, streams the body into a folder (with
 * backpressure all the way back to the sender's disk), then answers with the size and sha256 it
 * wrote. Runs until SIGTERM or SIGINT.
 *
 *   npx tsx file-transfer/receive.ts tcp://127.0.0.1:4000 ./incoming
 */
import { createHash } from 'node:crypto'
import { createWriteStream, mkdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { listen, type Receiver } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { unix } from '@libswarm/transport-unix'
import type { Offer, Receipt } from './protocol.ts'

const [url = 'tcp://127.0.0.1:4000', folder = 'incoming'] = process.argv.slice(2)
const into = resolve(folder)
mkdirSync(into, { recursive: true })

async function receive(offer: Offer): Promise<Receipt> {
  // Never trust a peer's path: keep only the last segment of the name.
  const path = join(into, basename(offer.name))
  const hash = createHash('sha256')
  let bytes = 0
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    },
  })
  try {
    await pipeline(offer.body, count, createWriteStream(path))
    return { ok: true, bytes, sha256: hash.digest('hex'), path }
  } catch (error) {
    return { ok: false, error: (error as Error).message }
  }
}

async function serve(offers: Receiver<Offer>): Promise<void> {
  for await (const offer of offers) {
    const receipt = await receive(offer)
    console.log(
      receipt.ok
        ? `received ${offer.name}: ${receipt.bytes} bytes`
        : `failed ${offer.name}: ${receipt.error}`,
    )
    await offer.reply.send(receipt)
    await offer.reply.close()
  }
}

const listener = await listen(url, { transports: [tcp(), unix()] })
const stop = () => void listener.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
console.log(`listening on ${listener.url}, writing into ${into}`)
for await (const session of listener) {
  void (async () => {
    for await (const channel of session) void serve(channel as Receiver<Offer>)
  })()
}
