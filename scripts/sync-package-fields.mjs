#!/usr/bin/env node
/**
 * Makes every workspace package (packages/* and apps/*) ready to publish, idempotently:
 * `license`, `repository` (with `directory`), `engines`, `files`, `publishConfig.access`, and
 * `publishConfig.exports` derived from the development `exports` (./src/X.ts -> types
 * ./dist/X.d.ts + default ./dist/X.js, `./internal/*` kept null); its tsconfig.build.json emits
 * declarations and declaration maps into dist/.
 *
 * And how each package takes @libswarm/core, so a user's install has ONE copy of it whatever the
 * release each package came from: plugins (packages/transport-*, packages/adapter-*, the two
 * compliance suites) declare it as a peer dependency `workspace:^` (published as `^x.y.z`; a
 * `workspace:^x.y.z` that raises the minimum is kept) plus a
 * devDependency `workspace:*` for their own tests, never as a dependency; apps (apps/*) that use it
 * take it as a dependency `workspace:^`.
 *
 *   node scripts/sync-package-fields.mjs          rewrite what differs, list the files it changed
 *   node scripts/sync-package-fields.mjs --check  change nothing, exit 1 if something differs
 *
 * Run it after adding a package by hand (`pnpm create-adapter` already writes these fields).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')

/** Where the sources live; every package's `repository` points here with its folder as `directory`. */
export const REPOSITORY_URL = 'git+https://github.com/libswarm/libswarm-ts.git'

/** { dir, group, folder } of every packages/* and apps/* folder with a package.json. */
function packageDirs() {
  return ['packages', 'apps'].flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group), { withFileTypes: true })
          .filter((entry) => entry.isDirectory() && existsSync(join(root, group, entry.name, 'package.json')))
          .map((entry) => ({ dir: join(root, group, entry.name), group, folder: entry.name }))
      : [],
  )
}

/** The package every plugin shares with the app that loads it. */
export const CORE = '@libswarm/core'

/** packages/transport-*, packages/adapter-* (the compliance suites too): core is their peer. */
export function isPlugin(group, folder) {
  return group === 'packages' && /^(transport|adapter)-/.test(folder)
}

/** The same object with its keys sorted (as pnpm writes dependency maps). */
function sorted(map) {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * A plugin's peer range on core: `workspace:^` (published as ^ the core version at publish time), or
 * `workspace:^x.y.z` kept as written (a plugin that needs core x.y.z or later says so).
 */
export function corePeerRange(current) {
  return typeof current === 'string' && /^workspace:\^(\d+\.\d+\.\d+\S*)?$/.test(current)
    ? current
    : 'workspace:^'
}

/**
 * How `pkg` (in `group`/`folder`) must take @libswarm/core: plugins as a peer `workspace:^` plus a
 * devDependency `workspace:*`; apps that use it as a dependency `workspace:^`. Others unchanged.
 */
function withCoreRanges(pkg, group, folder) {
  if (pkg.name === CORE) return pkg
  if (isPlugin(group, folder)) {
    const { [CORE]: _, ...dependencies } = pkg.dependencies ?? {}
    let out = withField(
      pkg,
      'peerDependencies',
      sorted({ ...pkg.peerDependencies, [CORE]: corePeerRange(pkg.peerDependencies?.[CORE]) }),
      'dependencies' in pkg ? 'dependencies' : 'scripts',
    )
    out = withField(out, 'devDependencies', sorted({ ...pkg.devDependencies, [CORE]: 'workspace:*' }))
    if (Object.keys(dependencies).length > 0) out.dependencies = dependencies
    else delete out.dependencies
    return out
  }
  const uses = [pkg.dependencies, pkg.peerDependencies, pkg.devDependencies].some(
    (deps) => deps && CORE in deps,
  )
  if (group === 'apps' && uses) {
    const out = withField(pkg, 'dependencies', { ...pkg.dependencies, [CORE]: 'workspace:^' }, 'scripts')
    for (const field of ['peerDependencies', 'devDependencies']) {
      if (!out[field] || !(CORE in out[field])) continue
      const { [CORE]: _, ...rest } = out[field]
      if (Object.keys(rest).length > 0) out[field] = rest
      else delete out[field]
    }
    return out
  }
  return pkg
}

/** `./src/a/b.ts` -> { types: './dist/a/b.d.ts', default: './dist/a/b.js' }; conditions recurse. */
function toDist(target) {
  if (target === null) return null
  if (typeof target === 'string') {
    const match = /^\.\/src\/(.+)\.(m?)ts$/.exec(target)
    if (!match) return target
    const ext = match[2] === 'm' ? 'mjs' : 'js'
    return { types: `./dist/${match[1]}.d.${match[2]}ts`, default: `./dist/${match[1]}.${ext}` }
  }
  if (Array.isArray(target)) return target.map(toDist)
  if (typeof target === 'object') {
    const out = {}
    for (const [key, value] of Object.entries(target)) {
      const mapped = toDist(value)
      // { default: {types, default} } collapses into {types, default}, so "types" stays first.
      if (key === 'default' && mapped && typeof mapped === 'object' && !Array.isArray(mapped))
        Object.assign(out, mapped)
      else out[key] = mapped
    }
    return out
  }
  return target
}

/** Inserts `key` after `after` (or at the end) in an object, keeping the others' order. */
function withField(obj, key, value, after) {
  if (key in obj) return { ...obj, [key]: value }
  const out = {}
  let placed = false
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v
    if (k === after) {
      out[key] = value
      placed = true
    }
  }
  if (!placed) out[key] = value
  return out
}

const rootLicense = readFileSync(join(root, 'LICENSE'), 'utf8')
const changed = []
function write(file, before, after, why) {
  if (before === after) return
  changed.push(why ? `${relative(root, file)} (${why})` : relative(root, file))
  if (!check) writeFileSync(file, after)
}

/** What `withCoreRanges` changed, in words, so --check says why a manifest drifted. */
function coreDrift(before, after) {
  const ranges = (pkg) =>
    ['dependencies', 'peerDependencies', 'devDependencies']
      .filter((field) => pkg[field]?.[CORE] !== undefined)
      .map((field) => `${field} "${pkg[field][CORE]}"`)
      .join(', ')
  const was = ranges(before)
  const now = ranges(after)
  return was === now ? undefined : `${CORE}: ${now}, not ${was || 'absent'}`
}

for (const { dir, group, folder } of packageDirs()) {
  const file = join(dir, 'package.json')
  const before = readFileSync(file, 'utf8')
  let pkg = JSON.parse(before)
  if (pkg.private) continue
  const original = pkg
  pkg = withCoreRanges(pkg, group, folder)
  pkg = withField(pkg, 'license', pkg.license ?? 'Apache-2.0', 'description')
  pkg = withField(
    pkg,
    'repository',
    { type: 'git', url: REPOSITORY_URL, directory: relative(root, dir) },
    'license',
  )
  pkg = withField(pkg, 'engines', { node: '>=20', ...pkg.engines }, 'sideEffects')
  const files = new Set(pkg.files ?? [])
  for (const entry of ['dist', 'src', 'README.md']) files.add(entry)
  pkg.files = [...files]
  const exports = pkg.exports ?? { '.': './src/index.ts' }
  pkg.exports = { ...exports, './internal/*': null }
  pkg.publishConfig = {
    ...pkg.publishConfig,
    access: 'public',
    exports: toDist(pkg.exports),
  }
  write(file, before, `${JSON.stringify(pkg, null, 2)}\n`, coreDrift(original, pkg))

  // npm ships a LICENSE that sits in the package folder: keep each one a copy of the root's.
  const licenseFile = join(dir, 'LICENSE')
  write(licenseFile, existsSync(licenseFile) ? readFileSync(licenseFile, 'utf8') : '', rootLicense)

  const buildFile = join(dir, 'tsconfig.build.json')
  const buildBefore = existsSync(buildFile) ? readFileSync(buildFile, 'utf8') : ''
  const build = buildBefore
    ? JSON.parse(buildBefore)
    : { extends: '../../tsconfig.base.json', compilerOptions: {}, include: ['src'] }
  build.compilerOptions = {
    ...build.compilerOptions,
    outDir: 'dist',
    rootDir: 'src',
    noEmit: false,
    declaration: true,
    declarationMap: true,
  }
  // Arrays of strings on one line, objects expanded: what the formatter (biome) leaves alone.
  const buildAfter = `${JSON.stringify(build, null, 2).replace(
    /\[\s+("[^"]*"(?:,\s+"[^"]*")*)\s+\]/g,
    (_, items) => `[${items.replace(/,\s+/g, ', ')}]`,
  )}\n`
  write(buildFile, buildBefore, buildAfter)
  if (!pkg.scripts?.build) changed.push(`${relative(root, file)}: no "build" script`)
}

if (changed.length > 0) {
  process.stdout.write(`${check ? 'out of date' : 'updated'}:\n${changed.map((f) => `  ${f}`).join('\n')}\n`)
  if (check) {
    process.stdout.write('run: node scripts/sync-package-fields.mjs\n')
    process.exit(1)
  }
}
