/** What the sender and the receiver of a file agree on. */
import type { Readable } from 'node:stream'
import type { Sender } from '@libswarm/core'

/** One file: its name and size, its bytes as a stream, and where the receipt goes. */
export interface Offer {
  name: string
  size: number
  body: Readable
  reply: Sender<Receipt>
}

/** What the receiver wrote, so the sender can check it. */
export type Receipt = { ok: true; bytes: number; sha256: string; path: string } | { ok: false; error: string }
