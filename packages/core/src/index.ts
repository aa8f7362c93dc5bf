/**
 * @libswarm/core: channels that carry channels.
 *
 * A channel has a {@link Sender} and a {@link Receiver}; messages may hold, at any depth, other
 * channel ends, byte streams and attachments. Request/response is a message carrying a return Sender.
 *
 * @example
 * import { pipe } from '@libswarm/core'
 *
 * type Request = { question: string; reply: Sender<string> }
 * const [requests, client] = pipe<Request>()
 *
 * // The server answers each request on the channel the request carries.
 * ;(async () => {
 *   for await (const { question, reply } of requests) {
 *     await reply.send(`you asked: ${question}`)
 *     await reply.close()
 *   }
 * })()
 *
 * const [answers, reply] = pipe<string>()
 * await client.send({ question: 'ping?', reply })
 * console.log(await answers.receive()) // "you asked: ping?"
 *
 * @packageDocumentation
 */
export * from './channel.ts'
export * from './codec/codec.ts'
export * from './codec/json.ts'
export * from './codec/msgpack.ts'
export * from './copy.ts'
export * from './errors.ts'
export * from './pipe.ts'
export * from './services/index.ts'
export * from './session/index.ts'
export * from './streams.ts'
export * from './transport.ts'
