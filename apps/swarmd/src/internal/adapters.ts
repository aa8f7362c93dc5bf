import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Backend } from '@libswarm/core'

/** A backend and where it came from. */
export interface LoadedBackend {
  backend: Backend
  /** The package name (`@libswarm/adapter-debug`) or path it was loaded from, or `swarmd`. */
  source: string
}

/** An adapter package or file that could not be loaded. */
export interface LoadFailure {
  source: string
  message: string
}

/** Packages under node_modules/@libswarm/ that are not adapters although their name says so. */
const NOT_ADAPTERS = new Set(['adapter-compliance', 'adapter-kit'])

/**
 * Finds installed `@libswarm/adapter-*` packages: in `node_modules/@libswarm/` of each start folder
 * and of every folder above it. The same package found twice counts once, the one nearest the first
 * start folder winning. Returns the package folders.
 */
export function discoverAdapterPackages(startDirs: readonly string[]): { name: string; dir: string }[] {
  const found = new Map<string, string>()
  const seenReal = new Set<string>()
  for (const start of startDirs) {
    let dir = resolve(start)
    for (;;) {
      const scope = join(dir, 'node_modules', '@libswarm')
      for (const entry of safeReaddir(scope)) {
        if (!entry.startsWith('adapter-') || NOT_ADAPTERS.has(entry)) continue
        const name = `@libswarm/${entry}`
        const packageDir = join(scope, entry)
        let real: string
        try {
          real = realpathSync(packageDir)
        } catch {
          continue // a dangling symlink
        }
        if (found.has(name) || seenReal.has(real)) continue
        if (!existsSync(join(real, 'package.json'))) continue
        found.set(name, real)
        seenReal.add(real)
      }
      const parent = dirname(dir)
      if (parent === dir) break
      dir = parent
    }
  }
  return [...found].map(([name, dir]) => ({ name, dir })).sort((a, b) => a.name.localeCompare(b.name))
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** Imports a package from its folder, following its package.json `exports` (or `main`). */
export async function importPackageDir(dir: string): Promise<Record<string, unknown>> {
  const manifestPath = join(dir, 'package.json')
  let manifest: Record<string, unknown>
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>
  } catch (error) {
    throw new Error(`cannot read ${manifestPath}: ${message(error)}`)
  }
  const entry = entryOf(manifest)
  if (!entry) throw new Error(`${manifestPath} names no entry point ("exports" or "main")`)
  return (await import(pathToFileURL(join(dir, entry)).href)) as Record<string, unknown>
}

function entryOf(manifest: Record<string, unknown>): string | undefined {
  const exports = manifest.exports
  const fromExports = pick(
    typeof exports === 'object' && exports !== null && !Array.isArray(exports) && '.' in exports
      ? (exports as Record<string, unknown>)['.']
      : exports,
  )
  if (fromExports) return fromExports
  if (typeof manifest.module === 'string') return manifest.module
  if (typeof manifest.main === 'string') return manifest.main
  return 'index.js'
}

function pick(target: unknown): string | undefined {
  if (typeof target === 'string') return target
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = pick(item)
      if (found) return found
    }
    return undefined
  }
  if (typeof target === 'object' && target !== null) {
    const conditions = target as Record<string, unknown>
    for (const key of ['import', 'node', 'default']) {
      if (key in conditions) {
        const found = pick(conditions[key])
        if (found) return found
      }
    }
  }
  return undefined
}

/**
 * Imports what a config file's `adapters` entry names: a path (`./x`, `../x`, `/x`: a package
 * folder or a module file, relative to the config file) or a package name, looked up in
 * node_modules folders from `baseDir` upward.
 */
export async function importAdapterEntry(entry: string, baseDir: string): Promise<Record<string, unknown>> {
  if (entry.startsWith('.') || isAbsolute(entry)) {
    const path = resolve(baseDir, entry)
    if (!existsSync(path)) throw new Error(`${path} does not exist`)
    if (statSync(path).isDirectory()) return importPackageDir(path)
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>
  }
  let dir = resolve(baseDir)
  for (;;) {
    const candidate = join(dir, 'node_modules', entry)
    if (existsSync(join(candidate, 'package.json'))) return importPackageDir(realpathSync(candidate))
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  throw new Error(`package "${entry}" is not installed (run: npm install ${entry})`)
}

/** The backends a module exports as `backend` and/or `backends`. Throws if there is none or one is malformed. */
export function backendsOf(mod: Record<string, unknown>, source: string): Backend[] {
  const list: unknown[] = []
  if (mod.backend !== undefined) list.push(mod.backend)
  if (mod.backends !== undefined) {
    if (!Array.isArray(mod.backends)) throw new Error(`${source}: "backends" must be an array of backends`)
    list.push(...mod.backends)
  }
  if (list.length === 0) throw new Error(`${source} exports no "backend" or "backends"`)
  return list.map((item, index) => {
    const candidate = item as Partial<Backend> | null
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.name !== 'string' ||
      !/^[a-z0-9][a-z0-9._-]*$/.test(candidate.name) ||
      typeof candidate.summary !== 'string' ||
      typeof candidate.usage !== 'string' ||
      typeof candidate.spawn !== 'function'
    ) {
      throw new Error(
        `${source}: backend #${index + 1} is not a Backend (needs a lowercase "name", "summary", "usage" and a "spawn" function)`,
      )
    }
    return candidate as Backend
  })
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The package a user should install to get a backend that is missing. */
export function packageHint(name: string): string {
  const base = name.replace(/(server|client)$/, '')
  const packages = [`@libswarm/adapter-${name}`]
  if (base !== name && base !== '') packages.push(`@libswarm/adapter-${base}`)
  return packages.join(' or ')
}

export { message as errorMessage }
