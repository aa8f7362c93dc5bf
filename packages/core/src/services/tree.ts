import { isSender } from '../channel.ts'
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors.ts'
import { Server, type ServerOptions } from './server.ts'
import type { Service } from './types.ts'

/**
 * Names bound to services: `Ls` answers the names (sorted), `Attach NAME` the service bound to NAME
 * (NotFoundError for an unknown name; `Attach` with no name gives the tree itself), `Get` answers
 * `{ children: [...] }`. Other verbs answer "not implemented", or go to `options.fallback`.
 *
 * @example
 * const tree = new Tree({ web: webService })
 * tree.bind('db', dbService)
 * await new Client(tree).ls() // ['db', 'web']
 */
export class Tree extends Server {
  readonly #children = new Map<string, Service>()

  constructor(
    entries: Record<string, Service> | Iterable<readonly [string, Service]> = {},
    options: ServerOptions = {},
  ) {
    const handlers: ConstructorParameters<typeof Server>[0] = {}
    super(handlers, options)
    Object.assign(handlers, {
      onLs: () => this.names(),
      onAttach: ([name = '']: string[]) => {
        if (name === '') return this
        const child = this.#children.get(name)
        if (!child) {
          throw new NotFoundError(`no child named "${name}" (children: ${this.names().join(', ') || 'none'})`)
        }
        return child
      },
      onGet: () => ({ children: this.names() }),
    })
    const list = Symbol.iterator in entries ? entries : Object.entries(entries)
    for (const [name, service] of list as Iterable<readonly [string, Service]>) this.bind(name, service)
  }

  /** Binds `name` to `service`. ConflictError if the name is taken (unbind it first). */
  bind(name: string, service: Service): this {
    if (typeof name !== 'string' || name === '' || name.includes('/')) {
      throw new InvalidArgumentError(
        `a tree name must be a non-empty string without "/", got ${JSON.stringify(name)}`,
      )
    }
    if (!isSender(service))
      throw new InvalidArgumentError(`Tree.bind("${name}"): not a service (a Sender<Message>)`)
    if (this.#children.has(name)) throw new ConflictError(`"${name}" is already bound; unbind it first`)
    this.#children.set(name, service)
    return this
  }

  /** Removes `name`; returns the service that was bound, or undefined. Does not close it. */
  unbind(name: string): Service | undefined {
    const service = this.#children.get(name)
    this.#children.delete(name)
    return service
  }

  /** The service bound to `name`, or undefined. */
  child(name: string): Service | undefined {
    return this.#children.get(name)
  }

  /** The bound names, sorted. */
  names(): string[] {
    return [...this.#children.keys()].sort()
  }
}
