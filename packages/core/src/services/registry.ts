import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors.ts'
import { notImplemented } from './handler.ts'
import type { Backend, BackendContext, Service } from './types.ts'

/**
 * Splits a spec like a shell command line: words separated by whitespace; `'...'` keeps everything
 * literally; `"..."` keeps everything except `\"`, `\\`, `\$` and `` \` `` which lose their
 * backslash; outside quotes a backslash keeps the next character literally. No variables, globs or
 * operators. An unterminated quote or a trailing backslash is an InvalidArgumentError.
 *
 * @example
 * parseSpec(`exec sh -c 'echo "hi there"'`) // ['exec', 'sh', '-c', 'echo "hi there"']
 */
export function parseSpec(spec: string): string[] {
  if (typeof spec !== 'string') throw new InvalidArgumentError(`a spec must be a string, got ${typeof spec}`)
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < spec.length) {
    const c = spec[i]!
    if (c === "'") {
      const end = spec.indexOf("'", i + 1)
      if (end < 0)
        throw new InvalidArgumentError(
          `unterminated single quote at column ${i + 1} in spec: ${excerpt(spec)}`,
        )
      word += spec.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      const start = i
      i++
      for (;;) {
        if (i >= spec.length) {
          throw new InvalidArgumentError(
            `unterminated double quote at column ${start + 1} in spec: ${excerpt(spec)}`,
          )
        }
        const d = spec[i]!
        if (d === '"') break
        if (d === '\\' && i + 1 < spec.length && '"\\$`'.includes(spec[i + 1]!)) {
          word += spec[i + 1]
          i += 2
        } else {
          word += d
          i++
        }
      }
      inWord = true
      i++
    } else if (c === '\\') {
      if (i + 1 >= spec.length) throw new InvalidArgumentError(`trailing backslash in spec: ${excerpt(spec)}`)
      word += spec[i + 1]
      inWord = true
      i += 2
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}

/** A spec as shown in an error: at most 200 characters, so a 1 MB spec does not make a 1 MB message. */
function excerpt(spec: string): string {
  return spec.length <= 200 ? spec : `${spec.slice(0, 200)}... (${spec.length} characters)`
}

/**
 * An InvalidArgumentError for bad arguments to `backend`, ending with its usage line:
 * `[dockerclient] bad URL "x"` + `\nusage: dockerclient [URL]`. Adapters throw it from `spawn`.
 */
export function usageError(backend: Pick<Backend, 'name' | 'usage'>, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(`[${backend.name}] ${problem}\nusage: ${backend.usage}`)
}

/** Options of {@link BackendRegistry.spawn}: a partial {@link BackendContext}; the rest gets defaults. */
export type SpawnContext = Partial<BackendContext>

/**
 * Backends by name: `swarmd` and pipelines spawn instances from spec strings through it.
 *
 * @example
 * const registry = new BackendRegistry([simulator, debug])
 * const instance = await registry.spawn('simulator --hosts 3')
 */
export class BackendRegistry {
  readonly #backends = new Map<string, Backend>()

  constructor(backends: Iterable<Backend> = []) {
    for (const backend of backends) this.register(backend)
  }

  /** Adds `backend`. ConflictError if its name is taken; InvalidArgumentError if it is malformed. */
  register(backend: Backend): this {
    if (
      typeof backend !== 'object' ||
      backend === null ||
      typeof backend.name !== 'string' ||
      !/^[a-z0-9][a-z0-9._-]*$/.test(backend.name) ||
      typeof backend.spawn !== 'function'
    ) {
      throw new InvalidArgumentError(
        'a backend needs a lowercase name (letters, digits, . _ -), a summary, a usage line and spawn(args, context)',
      )
    }
    if (this.#backends.has(backend.name)) {
      throw new ConflictError(`a backend named "${backend.name}" is already registered`)
    }
    this.#backends.set(backend.name, backend)
    return this
  }

  /** True if a backend is registered under `name`. */
  has(name: string): boolean {
    return this.#backends.has(name)
  }

  /** The backend named `name`; NotFoundError (listing the known names) if none. */
  get(name: string): Backend {
    const backend = this.#backends.get(name)
    if (!backend) {
      const known = [...this.#backends.keys()].sort().join(', ') || 'none'
      throw new NotFoundError(`no backend named "${name}" (registered: ${known})`)
    }
    return backend
  }

  /** Every registered backend, sorted by name. */
  list(): Backend[] {
    return [...this.#backends.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /**
   * Spawns an instance from `spec` (a command line, or already split words): the first word names
   * the backend, the rest are its args. `context` fields default to: `out` = {@link notImplemented},
   * `signal` = never fires, `log` = dropped, `logged` = whether `log` was given, `spawn` = this
   * registry with the same context.
   * Errors: InvalidArgumentError for an empty or malformed spec; NotFoundError for an unknown
   * backend; a backend's InvalidArgumentError is rethrown with its usage line appended.
   */
  async spawn(spec: string | readonly string[], context: SpawnContext = {}): Promise<Service> {
    const words = typeof spec === 'string' ? parseSpec(spec) : [...spec]
    const [name, ...args] = words
    if (name === undefined || name === '') {
      throw new InvalidArgumentError('empty spec: expected "<backend> [args...]"')
    }
    const backend = this.get(name)
    const full: BackendContext = {
      out: context.out ?? notImplemented,
      signal: context.signal ?? new AbortController().signal,
      log: context.log ?? (() => {}),
      logged: context.logged ?? context.log !== undefined,
      spawn: context.spawn ?? ((child, out) => this.spawn(child, { ...full, out: out ?? notImplemented })),
    }
    try {
      return await backend.spawn(args, full)
    } catch (error) {
      if (error instanceof InvalidArgumentError && !error.message.includes(backend.usage)) {
        throw new InvalidArgumentError(`[${backend.name}] ${error.message}\nusage: ${backend.usage}`, {
          cause: error,
        })
      }
      throw error
    }
  }
}
