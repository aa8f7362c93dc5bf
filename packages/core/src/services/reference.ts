import { type OperationOptions, SENDER, type Sender } from '../channel.ts'
import { ChannelClosedError } from '../errors.ts'
import type { Message, Service, ServiceSendOptions } from './types.ts'

/**
 * A reference to a shared service: `send` goes to `service`; `close()` and `abort()` end only this
 * reference, never the service. Hand one out wherever a service is shared by several callers, in
 * particular across a session: a session closes (or aborts) a local Sender it exported when the
 * remote proxy closes or the session ends, which must not close a service other callers use.
 *
 * `Server` replies to Attach and Spawn with a reference to the child, so a caller closing the
 * child it got (`client.close()`) releases its reference only. Expose a long-lived service (a
 * pipeline head served by `swarmd --listen`) the same way: send `reference(head)`, not `head`.
 */
export function reference(service: Service): Service {
  return service instanceof ServiceReference
    ? new ServiceReference(service.target)
    : new ServiceReference(service)
}

class ServiceReference implements Sender<Message> {
  declare readonly [SENDER]: true
  #open = true
  #resolveClosed: (() => void) | undefined
  readonly closed: Promise<void>

  constructor(readonly target: Service) {
    // Deliberately not subscribed to `target.closed`: a long-lived service referenced many times
    // would keep every reference alive. A closed target shows on the next send instead.
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve
    })
  }

  async send(message: Message, options?: ServiceSendOptions | OperationOptions): Promise<void> {
    if (!this.#open) throw new ChannelClosedError('cannot send on a closed service reference')
    try {
      await this.target.send(message, options)
    } catch (error) {
      if (error instanceof ChannelClosedError) this.#end()
      throw error
    }
  }

  close(): Promise<void> {
    this.#end()
    return Promise.resolve()
  }

  abort(): void {
    this.#end()
  }

  #end(): void {
    if (!this.#open) return
    this.#open = false
    this.#resolveClosed?.()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
Object.defineProperty(ServiceReference.prototype, SENDER, { value: true })
