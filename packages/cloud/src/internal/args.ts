import { InvalidArgumentError } from '@libswarm/core'

/** How a flag takes its value: `flag` (none), `value` (one, the last wins), `repeat` (any number). */
export type FlagKind = 'flag' | 'value' | 'repeat'

/** Flags split from positionals; repeated flags keep every value in order. */
export interface ParsedFlags {
  positional: string[]
  /** The last value of each `value` flag, `'true'` for a `flag`. */
  values: Map<string, string>
  /** Every value of each `repeat` flag, in order. */
  repeats: Map<string, string[]>
}

/**
 * Splits `args` into positionals and `--name[=value]` flags known to `known`. An unknown flag, a
 * missing value, a value on a bare flag or a non-string argument is an InvalidArgumentError naming
 * `tag` and ending with `usage`.
 */
export function parseFlags(
  args: readonly unknown[],
  known: Readonly<Record<string, FlagKind>>,
  usage: string,
  tag: string,
): ParsedFlags {
  const parsed: ParsedFlags = { positional: [], values: new Map(), repeats: new Map() }
  for (const arg of args) {
    if (typeof arg !== 'string')
      throw new InvalidArgumentError(`[${tag}] arguments must be strings; ${usage}`)
    if (!arg.startsWith('--')) {
      parsed.positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = Object.hasOwn(known, name) ? known[name] : undefined
    if (kind === undefined) throw new InvalidArgumentError(`[${tag}] unknown option "--${name}"; ${usage}`)
    if (kind === 'flag') {
      if (eq >= 0) throw new InvalidArgumentError(`[${tag}] option "--${name}" takes no value; ${usage}`)
      parsed.values.set(name, 'true')
      continue
    }
    if (eq < 0)
      throw new InvalidArgumentError(`[${tag}] option "--${name}" needs a value (--${name}=VALUE); ${usage}`)
    const value = arg.slice(eq + 1)
    if (kind === 'value') parsed.values.set(name, value)
    else parsed.repeats.set(name, [...(parsed.repeats.get(name) ?? []), value])
  }
  return parsed
}

/**
 * Reads a number option: `fallback` when absent; otherwise a finite number >= `min` (and an integer
 * when `integer`), else an InvalidArgumentError.
 */
export function numberFlag(
  parsed: ParsedFlags,
  name: string,
  fallback: number,
  usage: string,
  tag: string,
  options: { min?: number; integer?: boolean } = {},
): number {
  const raw = parsed.values.get(name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  const min = options.min ?? 0
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    value < min ||
    (options.integer && !Number.isInteger(value))
  ) {
    throw new InvalidArgumentError(
      `[${tag}] option "--${name}" must be ${options.integer ? 'a whole number' : 'a number'} >= ${min}, got "${raw}"; ${usage}`,
    )
  }
  return value
}

/** `KEY=VALUE` split at the first `=`; KEY must be non-empty. */
export function splitPair(text: string, what: string, usage: string, tag: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq < 1)
    throw new InvalidArgumentError(`[${tag}] ${what} needs KEY=VALUE, got ${JSON.stringify(text)}; ${usage}`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

/**
 * A point in time for `Watch --until=TIME` (docs/VERBS.md): Unix seconds with an optional fraction,
 * or RFC 3339. Milliseconds since the epoch, or undefined when it is neither.
 */
export function parseTime(text: string): number | undefined {
  if (/^\d{1,12}(\.\d{1,9})?$/.test(text)) return Number(text) * 1000
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/** A name or id as the services take it: non-empty, at most 255 characters, no control characters. */
export function isPlausibleName(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  return text.length > 0 && text.length <= 255 && !/[\u0000-\u001f\u007f]/.test(text)
}
