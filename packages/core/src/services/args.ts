import { InvalidArgumentError } from '../errors.ts'

/** A spec's arguments split into positionals and `--name=value` / `--flag` options. */
export interface BackendArgs {
  /** Arguments that do not start with `--`, in order. */
  positional: string[]
  /** Options by name (without `--`); a flag without a value is `'true'`. */
  options: Map<string, string>
}

/**
 * Splits a backend's `args` into positionals and options. Every option must be in `known` (name to
 * "takes a value"); an unknown option, a missing value or a non-string argument is an
 * InvalidArgumentError tagged `[tag]` that shows `usage`.
 *
 * @example
 * parseBackendArgs(['http://x', '--timeout=5'], { timeout: true }, 'etcd [URL]', 'adapter-etcd')
 * // { positional: ['http://x'], options: Map { 'timeout' => '5' } }
 */
export function parseBackendArgs(
  args: readonly string[],
  known: Record<string, boolean>,
  usage: string,
  tag: string,
): BackendArgs {
  const positional: string[] = []
  const options = new Map<string, string>()
  for (const arg of args) {
    if (typeof arg !== 'string')
      throw new InvalidArgumentError(`[${tag}] arguments must be strings; usage: ${usage}`)
    if (!arg.startsWith('--')) {
      positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    // Own keys only: "--constructor" or "--__proto__" must not find Object.prototype's members.
    const takesValue = Object.hasOwn(known, name) ? known[name] : undefined
    if (takesValue === undefined) {
      throw new InvalidArgumentError(`[${tag}] unknown option "--${name}"; usage: ${usage}`)
    }
    if (takesValue && eq < 0) {
      throw new InvalidArgumentError(
        `[${tag}] option "--${name}" needs a value (--${name}=VALUE); usage: ${usage}`,
      )
    }
    options.set(name, eq < 0 ? 'true' : arg.slice(eq + 1))
  }
  return { positional, options }
}

/**
 * Reads option `name` of {@link parseBackendArgs}' result as a positive number, or `fallback` when
 * absent; anything else is an InvalidArgumentError that shows `usage`.
 */
export function positiveNumberOption(
  parsed: BackendArgs,
  name: string,
  fallback: number,
  usage: string,
  tag: string,
): number {
  const raw = parsed.options.get(name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(
      `[${tag}] option "--${name}" must be a positive number, got "${raw}"; usage: ${usage}`,
    )
  }
  return value
}
