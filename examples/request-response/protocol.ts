/** What the client and the server of this example agree on: one channel of requests. */
import type { Sender } from '@libswarm/core'

/** What can be asked. */
export type Call = { op: 'add'; a: number; b: number } | { op: 'upper'; text: string }

/** A request carries its own reply channel: that is all request/response needs. */
export type Request = Call & { reply: Sender<Response> }

export type Response = { ok: true; value: unknown } | { ok: false; error: string }
