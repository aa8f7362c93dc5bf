import { UnauthorizedError } from '../errors.ts'
import type { PeerInfo } from '../transport.ts'
import { Dispatcher } from './internal/dispatcher.ts'
import {
  type CallContext,
  type Message,
  type Service,
  type ServiceOptions,
  type ServiceSendOptions,
  VERBS,
  type Verb,
} from './types.ts'

/** What a filter's handler gets besides the message. */
export interface FilterContext extends CallContext {
  /** The wrapped service. */
  readonly next: Service
  /**
   * Sends `message` (default: the one being handled, unchanged) on to the wrapped service, on
   * behalf of the original caller: the wrapped service's handlers see the same `context.peer`.
   */
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
      // On behalf of the original caller: the wrapped service sees the same peer.
      const sendOptions: ServiceSendOptions = { signal: context.signal, peer: context.peer }
      return handle(message, {
        ...context,
        next: this.#next,
        forward: (forwarded = message) => this.#next.send(forwarded, sendOptions),
      })
    }, options)
    this.#next = service
    this.#handlers = handlers
  }

  protected override forwardTarget(message: Message): Service | undefined {
    return typeof this.#handlers[message.verb] === 'function' ? undefined : this.#next
  }
}

/**
 * Decides whether a caller may send a message: `peer` is who the session says is calling (undefined
 * for an in-process caller). Return false (or throw) to refuse.
 */
export type AuthorizeCheck = (peer: PeerInfo | undefined, message: Message) => boolean | Promise<boolean>

/**
 * Wraps `service` so that every message is first checked against `allowed(peer, message)`; a refused
 * one is answered `Error [<Verb> is not allowed for <caller>, "UNAUTHORIZED"]` (the caller's Client
 * throws UnauthorizedError) and never reaches `service`. Accepted messages are forwarded with the
 * same `peer`, so the service's own handlers still see the caller. Closing it does not close `service`.
 *
 * The `peer` comes from the session a message arrived on: the transport's authenticated identity
 * (a TLS client certificate's subject, a bearer token's identity, a unix peer's uid). Messages sent
 * in-process have no peer; decide explicitly whether those are allowed.
 *
 * @example
 * // Only the certificate with CN=admin may Start, Stop or Spawn; everyone may read.
 * const guarded = authorize(service, (peer, message) =>
 *   ['Ls', 'Get', 'Watch', 'Attach'].includes(message.verb) ||
 *   (peer?.identity as TlsIdentity | undefined)?.subject?.CN === 'admin',
 * )
 */
export function authorize(
  service: Service,
  allowed: AuthorizeCheck,
  options?: ServiceOptions,
): Service & AsyncDisposable {
  const check: FilterHandler = async (message, context) => {
    let ok = false
    try {
      ok = (await allowed(context.peer, message)) === true
    } catch {
      ok = false
    }
    if (!ok) {
      throw new UnauthorizedError(`${message.verb} is not allowed for ${describeCaller(context.peer)}`)
    }
    await context.forward()
  }
  const handlers: FilterHandlers = {}
  for (const verb of VERBS) handlers[verb] = check
  return new Filter(service, handlers, options)
}

/** A short printable description of a caller for refusal messages. */
function describeCaller(peer: PeerInfo | undefined): string {
  if (!peer) return 'this in-process caller'
  const where = peer.address ? `${peer.transport} peer ${peer.address}` : `${peer.transport} peer`
  const identity = peer.identity as { subject?: { CN?: unknown } } | string | undefined
  if (typeof identity === 'string') return `${where} (${identity})`
  const cn = identity && typeof identity === 'object' ? identity.subject?.CN : undefined
  return typeof cn === 'string' ? `${where} (CN=${cn})` : where
}
