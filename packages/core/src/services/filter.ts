import { Dispatcher } from './internal/dispatcher.ts'
import type { CallContext, Message, Service, ServiceOptions, Verb } from './types.ts'

/** What a filter's handler gets besides the message. */
export interface FilterContext extends CallContext {
  /** The wrapped service. */
  readonly next: Service
  /** Sends `message` (default: the one being handled, unchanged) on to the wrapped service. */
  forward(message?: Message): Promise<void>
}

/** A filter handler: answers on `message.ret` itself, or forwards (a changed) message; a throw answers `Error`. */
export type FilterHandler = (message: Message, context: FilterContext) => unknown

/** The verbs a filter intercepts, each with its handler. */
export type FilterHandlers = Partial<Record<Verb, FilterHandler>>

/**
 * Wraps `service`: messages whose verb is in `handlers` go to that handler; every other message is
 * forwarded unchanged (its `ret` too, so replies flow straight back, and backpressure with them).
 * Closing the filter does not close `service`.
 *
 * @example
 * // Refuse Stop, pass everything else through.
 * const guarded = filter(service, {
 *   Stop: () => { throw new UnauthorizedError('Stop is not allowed here') },
 * })
 */
export function filter(
  service: Service,
  handlers: FilterHandlers,
  options?: ServiceOptions,
): Service & AsyncDisposable {
  return new Filter(service, handlers, options)
}

/** The class behind {@link filter}. */
export class Filter extends Dispatcher {
  readonly #next: Service
  readonly #handlers: FilterHandlers

  constructor(service: Service, handlers: FilterHandlers, options?: ServiceOptions) {
    super((message, context) => {
      const handle = this.#handlers[message.verb]!
      return handle(message, {
        ...context,
        next: this.#next,
        forward: (forwarded = message) => this.#next.send(forwarded, { signal: context.signal }),
      })
    }, options)
    this.#next = service
    this.#handlers = handlers
  }

  protected override forwardTarget(message: Message): Service | undefined {
    return typeof this.#handlers[message.verb] === 'function' ? undefined : this.#next
  }
}
