/**
 * @libswarm/adapter-debug: a pipeline stage that prints every message passing through it.
 *
 * Each message sent to a `debug` instance is printed (verb, JSON args, `+ret` when it carries a
 * return channel, `+att` when it carries a byte stream or attachment) and forwarded unchanged to
 * the next stage. Replies are printed on their way back (`<-`), and a reply that hands out a child
 * service (Attach, Spawn) is wrapped too, so what you send the child is printed under its path.
 *
 * @example
 * import { type Message, pipe, replyAck } from '@libswarm/core'
 * import { debugService } from '@libswarm/adapter-debug'
 *
 * // A tiny service that acknowledges everything.
 * const [requests, next] = pipe<Message>()
 * void (async () => {
 *   for await (const message of requests) await replyAck(message.ret)
 * })()
 *
 * const service = debugService(next) // prints to stderr
 * const [replies, ret] = pipe<Message>()
 * await service.send({ verb: 'Start', args: [], ret })
 * console.log((await replies.receive()).verb) // "Ack"
 * // stderr:
 * // [debug] -> Start [] +ret
 * // [debug] <- Ack [] (reply to Start)
 *
 * @packageDocumentation
 */
export { backend, type DebugArgs, parseDebugArgs } from './internal/backend.ts'
export { type DebugOptions, debugService, describe, type LineSink } from './internal/tap.ts'
