import type { Backend } from '@libswarm/core'
import {
  backendsOf,
  discoverAdapterPackages,
  errorMessage,
  importAdapterEntry,
  importPackageDir,
  type LoadedBackend,
  type LoadFailure,
} from './adapters.ts'
import type { Config } from './config.ts'

/** Every backend swarmd can spawn, by name, and the adapters that failed to load. */
export interface Catalog {
  backends: Map<string, LoadedBackend>
  failures: LoadFailure[]
  /** Backends hidden because an earlier source gave the same name. */
  duplicates: { name: string; source: string; kept: string }[]
}

/** Where to look for adapters. */
export interface CatalogSources {
  /** Backends built into swarmd (cli, remote). They win over any adapter of the same name. */
  builtins: readonly Backend[]
  /** Folders to scan for node_modules/@libswarm/adapter-* (the cwd, then swarmd's own folder). */
  searchDirs: readonly string[]
  config: Config
}

/**
 * Loads the built-in backends, the adapters listed in the config file (in order), then every
 * installed `@libswarm/adapter-*` package. A package that fails to import or exports no backend is
 * reported in `failures`; it does not stop the others.
 */
export async function loadCatalog(sources: CatalogSources): Promise<Catalog> {
  const catalog: Catalog = { backends: new Map(), failures: [], duplicates: [] }
  const add = (backend: Backend, source: string) => {
    const existing = catalog.backends.get(backend.name)
    if (existing) {
      if (existing.source !== source)
        catalog.duplicates.push({ name: backend.name, source, kept: existing.source })
      return
    }
    catalog.backends.set(backend.name, { backend, source })
  }
  for (const backend of sources.builtins) add(backend, 'swarmd')
  for (const entry of sources.config.adapters) {
    try {
      const mod = await importAdapterEntry(entry, sources.config.dir)
      for (const backend of backendsOf(mod, entry)) add(backend, entry)
    } catch (error) {
      catalog.failures.push({ source: entry, message: errorMessage(error) })
    }
  }
  for (const { name, dir } of discoverAdapterPackages(sources.searchDirs)) {
    try {
      const mod = await importPackageDir(dir)
      for (const backend of backendsOf(mod, name)) add(backend, name)
    } catch (error) {
      catalog.failures.push({ source: name, message: errorMessage(error) })
    }
  }
  return catalog
}

/** The listing `swarmd` prints with no arguments. */
export function formatListing(catalog: Catalog): string {
  const rows = [...catalog.backends.values()].sort((a, b) => a.backend.name.localeCompare(b.backend.name))
  const width = Math.max(8, ...rows.map((row) => row.backend.name.length))
  const lines = ['Installed backends:', '']
  for (const { backend, source } of rows) {
    lines.push(`  ${backend.name.padEnd(width)}  ${backend.summary}`)
    lines.push(
      `  ${''.padEnd(width)}  usage: ${backend.usage}${source === 'swarmd' ? '  (built in)' : `  (${source})`}`,
    )
  }
  lines.push(
    '',
    "Run a pipeline: swarmd 'SPEC' 'SPEC' ...   e.g. swarmd cli debug simulator",
    'More adapters: npm install @libswarm/adapter-<name>   Help: swarmd --help',
  )
  return lines.join('\n') + '\n'
}
