import { SENDER } from '../channel.ts'
import { Dispatcher } from './internal/dispatcher.ts'
import { notImplementedMessage, replyAndClose } from './reply.ts'
import type { CallContext, Message, Service, ServiceOptions } from './types.ts'

/**
 * A function as a service. `fn` gets every message and answers on `message.ret` itself (see
 * `reply.ts`: `replyAck`, `replyError`, ...); if it throws (or rejects) the caller gets
 * `Error [message, code]`. Up to `maxConcurrency` messages run at once; `send` waits beyond that.
 *
 * @example
 * const echo = handler(async (message) => {
 *   await replyAndClose(message.ret, { verb: 'Log', args: message.args })
 * })
 */
export function handler(
  fn: (message: Message, context: CallContext) => unknown,
  options?: ServiceOptions,
): Service & AsyncDisposable {
  return new Dispatcher(fn, options)
}

class NotImplementedService {
  readonly closed: Promise<void> = new Promise<void>(() => {})

  async send(message: Message): Promise<void> {
    const ret = message?.ret
    if (ret && typeof ret.send === 'function') await replyAndClose(ret, notImplementedMessage(message.verb))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }

  abort(): void {}

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve()
  }
}
Object.defineProperty(NotImplementedService.prototype, SENDER, { value: true })

/**
 * The service that implements nothing: every message with a `ret` gets
 * `Error ["not implemented: <Verb>", "NOT_IMPLEMENTED"]`; messages without one are dropped. It is
 * shared and stateless: `close()` and `abort()` do nothing. The last stage of a pipeline has it as
 * its `out`.
 */
export const notImplemented: Service = Object.freeze(new NotImplementedService()) as unknown as Service
