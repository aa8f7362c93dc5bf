/**
 * Two Links joined back to back in memory, carrying bytes (not objects). For tests of anything that
 * speaks the wire protocol without a socket, and for the compliance suite.
 */
import type { Link, LinkHandlers, PeerInfo } from '../transport.ts'

const defer: (fn: () => void) => void = (fn) => queueMicrotask(fn)

class PairEnd implements Link {
  other!: PairEnd
  private handlers: LinkHandlers | undefined
  private early: (() => void)[] = []
  private ended = false
  private destroyed = false

  constructor(readonly peer: PeerInfo) {}

  private emit(fn: (h: LinkHandlers) => void): void {
    const h = this.handlers
    if (h) defer(() => fn(h))
    else this.early.push(() => fn(this.handlers!))
  }

  start(handlers: LinkHandlers): void {
    if (this.handlers) throw new Error('linkPair: start() may only be called once')
    this.handlers = handlers
    const early = this.early
    this.early = []
    for (const fn of early) defer(fn)
  }

  write(chunk: Uint8Array): boolean {
    if (this.ended || this.destroyed) return true
    const copy = chunk.slice()
    this.other.emit((h) => h.data(copy))
    return true
  }

  writev(chunks: Uint8Array[]): boolean {
    for (const chunk of chunks) this.write(chunk)
    return true
  }

  end(): void {
    if (this.ended || this.destroyed) return
    this.ended = true
    this.other.emit((h) => h.end())
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.ended = true
    this.emit((h) => h.close())
    if (!this.other.destroyed) {
      this.other.destroyed = true
      this.other.ended = true
      this.other.emit((h) => h.close())
    }
  }
}

/**
 * Returns two connected Links: bytes written to one arrive at the other, in order.
 *
 * @example
 * const [a, b] = linkPair()
 * const [client, server] = await Promise.all([createSession(a, { role: 'client' }), createSession(b, { role: 'server' })])
 */
export function linkPair(): [Link, Link] {
  const a = new PairEnd({ transport: 'pair', address: 'a' })
  const b = new PairEnd({ transport: 'pair', address: 'b' })
  a.other = b
  b.other = a
  return [a, b]
}
