#!/usr/bin/env node
/**
 * Creates a new libswarm adapter package from templates/adapter/.
 *
 *   pnpm create-adapter <name>                     -> packages/adapter-<name> (+ .changeset/adapter-<name>.md)
 *   node scripts/create-adapter.mjs <name> --dir D -> the package in D (outside the workspace: npm versions)
 *
 * The package has a working adapter, a README, a changeset-ready package.json and a compliance test
 * that passes on the first run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const templates = join(root, 'templates', 'adapter')
const USAGE =
  'usage: pnpm create-adapter <name> [--dir DIR]   (name: lowercase letters, digits and "-", e.g. "consul")'

function fail(message) {
  process.stderr.write(`create-adapter: ${message}\n`)
  process.exit(1)
}

function parse(argv) {
  let name
  let dir
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    } else if (arg === '--dir' || arg.startsWith('--dir=')) {
      dir = arg === '--dir' ? argv[++i] : arg.slice('--dir='.length)
      if (!dir) fail(`--dir needs a directory\n${USAGE}`)
    } else if (arg.startsWith('-')) {
      fail(`unknown option ${JSON.stringify(arg)}\n${USAGE}`)
    } else if (name === undefined) {
      name = arg
    } else {
      fail(`one name only, got ${JSON.stringify(name)} and ${JSON.stringify(arg)}\n${USAGE}`)
    }
  }
  if (name === undefined) fail(`missing the adapter name\n${USAGE}`)
  name = name.replace(/^adapter-/, '')
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name) || name.length > 50) {
    fail(
      `invalid name ${JSON.stringify(name)}: use lowercase letters, digits and single "-" (e.g. "my-cloud")\n${USAGE}`,
    )
  }
  if (name === 'compliance') fail('"compliance" is taken by @libswarm/adapter-compliance; pick another name')
  return { name, dir }
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'))
}

/** Every file under `dir`, as paths relative to it. */
function files(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = join(prefix, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : files(join(dir, entry.name), rel)
    return [rel]
  })
}

const { name, dir } = parse(process.argv.slice(2))
const target = dir ? resolve(dir) : join(root, 'packages', `adapter-${name}`)
const inRepo = !relative(root, target).startsWith('..')
if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0)) {
  fail(`${target} already exists and is not empty; remove it or pick another name`)
}

const rootPkg = readJson(join(root, 'package.json'))
const corePkg = readJson(join(root, 'packages', 'core', 'package.json'))
const dev = rootPkg.devDependencies ?? {}
const values = {
  __NAME__: name,
  // Inside this repository the workspace links the packages; elsewhere they come from npm.
  // @libswarm/core is a peer (the app that loads the adapter, swarmd, provides the one copy every
  // adapter shares: its error classes and brands must be the same), with a caret range
  // (`workspace:^` is published as `^x.y.z`), plus a devDependency so the adapter's own tests have it.
  __CORE_PEER_RANGE__: inRepo ? 'workspace:^' : `^${corePkg.version}`,
  __CORE_DEV_RANGE__: inRepo ? 'workspace:*' : `^${corePkg.version}`,
  __COMPLIANCE_VERSION__: inRepo ? 'workspace:*' : `^${corePkg.version}`,
  __TYPES_NODE_VERSION__: dev['@types/node'] ?? '^20.19.0',
  __TYPESCRIPT_VERSION__: dev.typescript ?? '^5.9.0',
  __VITEST_VERSION__: dev.vitest ?? '^4.0.0',
}
const fill = (text) => text.replace(/__[A-Z_]+__/g, (token) => values[token] ?? token)

for (const file of files(templates)) {
  const to = join(target, fill(file))
  mkdirSync(dirname(to), { recursive: true })
  writeFileSync(to, fill(readFileSync(join(templates, file), 'utf8')))
}

// Outside the repository the package is published with npm, which ignores publishConfig.exports:
// point exports at dist/ directly (its tests import ../src) and build it whenever it is packed.
if (!inRepo) {
  const manifestPath = join(target, 'package.json')
  const manifest = readJson(manifestPath)
  if (manifest.publishConfig?.exports) {
    manifest.exports = manifest.publishConfig.exports
    delete manifest.publishConfig.exports
  }
  manifest.scripts = { ...manifest.scripts, prepack: 'npm run build' }
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
}

// A package directly in this workspace's packages/ gets its changeset (the workspace test asks for one).
const changeset = join(root, '.changeset', `adapter-${name}.md`)
const inWorkspace = relative(join(root, 'packages'), target) === `adapter-${name}`
if (inWorkspace && !existsSync(changeset)) {
  writeFileSync(
    changeset,
    `---\n"@libswarm/adapter-${name}": minor\n---\n\nFirst release of \`@libswarm/adapter-${name}\`.\n`,
  )
}

const shown = relative(process.cwd(), target) || '.'
const next = inWorkspace
  ? ['  npx -y pnpm@10.34.9 install', `  npx vitest run --project adapter-${name}`]
  : [`  cd ${shown} && npm install && npx vitest run`]
const lines = [
  `Created @libswarm/adapter-${name} in ${shown}${inWorkspace ? ` (and .changeset/adapter-${name}.md)` : ''}`,
  '',
  'Next:',
  ...next,
  `  then replace the TODOs in ${join(shown, 'src/internal/backend.ts')} and README.md`,
  '  (docs/WRITING_AN_ADAPTER.md explains each part)',
  '',
]
process.stdout.write(lines.join('\n'))
