import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { UsageError } from './args.ts'

/** The default config file, looked for in the current folder. */
export const CONFIG_FILE = 'swarmd.config.json'

/** What `swarmd.config.json` holds. */
export interface Config {
  /** Adapter packages (names) or paths (relative to the config file) to load besides the installed ones. */
  adapters: string[]
  /** The folder the config file is in (paths in it are relative to this); the cwd when there is no file. */
  dir: string
  /** The file it was read from, if any. */
  file: string | undefined
}

/**
 * Reads the config: `--config FILE` (which must exist), else `swarmd.config.json` in `cwd` if it
 * exists, else an empty config. A malformed file is a {@link UsageError} naming the file and the fix.
 */
export function loadConfig(explicit: string | undefined, cwd: string): Config {
  const file = explicit === undefined ? resolve(cwd, CONFIG_FILE) : resolve(cwd, explicit)
  if (!existsSync(file)) {
    if (explicit !== undefined) throw new UsageError(`config file ${file} does not exist`)
    return { adapters: [], dir: cwd, file: undefined }
  }
  let data: unknown
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new UsageError(
      `${file} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
  const shape = `${file} must look like { "adapters": ["some-package", "./local/path"] }`
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(shape)
  const record = data as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (key !== 'adapters' && key !== '$schema')
      throw new UsageError(`${file}: unknown key "${key}"; ${shape}`)
  }
  const adapters = record.adapters ?? []
  if (!Array.isArray(adapters) || adapters.some((item) => typeof item !== 'string' || item === '')) {
    throw new UsageError(`${file}: "adapters" must be a list of package names or paths; ${shape}`)
  }
  return { adapters: adapters as string[], dir: dirname(file), file }
}
