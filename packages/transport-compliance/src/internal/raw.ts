import { decodeHello, encodeHello, type Link, MAGIC } from '@libswarm/core'

/** A raw client link with the handshake done by hand, so a case can write any bytes it likes. */
export interface RawClient {
  link: Link
  /** Everything received so far. */
  received(): Uint8Array
  /** Resolves when the link closes or ends (or after `ms`). */
  ended(ms: number): Promise<boolean>
}

export async function rawHandshake(link: Link, options: { hello?: boolean } = {}): Promise<RawClient> {
  let received = new Uint8Array(0)
  let onEnded!: () => void
  const ended = new Promise<void>((resolve) => (onEnded = resolve))
  let onData: (() => void) | undefined
  link.start({
    data(chunk) {
      const next = new Uint8Array(received.byteLength + chunk.byteLength)
      next.set(received)
      next.set(chunk, received.byteLength)
      received = next
      onData?.()
    },
    end: () => onEnded(),
    error: () => onEnded(),
    drain: () => {},
    close: () => onEnded(),
  })
  if (options.hello !== false) {
    link.write(
      encodeHello({
        status: 0,
        maxMessageSize: 16 * 1024 * 1024,
        streamWindow: 256 * 1024,
        sessionWindow: 4 * 1024 * 1024,
        codecs: ['msgpack'],
      }),
    )
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no server hello within 5 s')), 5000)
      onData = () => {
        if (received.byteLength >= MAGIC.byteLength && decodeHello(received)) {
          clearTimeout(timer)
          resolve()
        }
      }
      onData()
    })
  }
  return {
    link,
    received: () => received,
    ended: (ms) =>
      Promise.race([ended.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false))]),
  }
}
