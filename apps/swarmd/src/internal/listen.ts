import type { Service } from '@libswarm/core'
import type { Logger } from './log.ts'

/** A running endpoint. */
export interface Served {
  url: URL
  close(): Promise<void>
}

/** Serves `head` on `url` over the transport its scheme names. */
export async function serve(
  _url: string,
  _head: Service,
  _options: { logger: Logger; signal: AbortSignal },
): Promise<Served> {
  throw new Error('--listen needs the session layer (not landed yet)')
}
