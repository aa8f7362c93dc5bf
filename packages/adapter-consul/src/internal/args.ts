import { InvalidArgumentError } from '@libswarm/core'

/** A spec's arguments split into positionals and `--name=value` / `--flag` options. */
export interface ParsedArgs {
  positional: string[]
  options: Map<string, string>
}

/**
 * Splits `args` into positionals and options. Every option must be in `known` (name to "takes a
 * value"); anything else is an InvalidArgumentError that shows `usage`.
 */
export function parseArgs(
  args: readonly string[],
  known: Record<string, boolean>,
  usage: string,
  tag: string,
): ParsedArgs {
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
    const takesValue = known[name]
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

/** Reads a positive number option, or `fallback` when absent. */
export function numberOption(
  parsed: ParsedArgs,
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
