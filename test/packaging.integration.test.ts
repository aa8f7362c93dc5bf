/**
 * Install only what you need, tested as a user would: build, `pnpm pack` @libswarm/core, swarmd,
 * the transports swarmd depends on and ONE adapter (simulator) into tarballs, install them with
 * plain `npm install` into an empty project outside the workspace, then run `npx swarmd` there:
 * it lists exactly that adapter (and the built-ins), runs a pipeline with it, and names the package
 * to install for another. npm installs ONE @libswarm/core for all of them: the adapter and the
 * transports take it as a peer (`^x.y.z`) that swarmd's dependency satisfies. Then an adapter made by
 * the generator outside the workspace, packed with npm and installed next to swarmd, is found and
 * listed, still with one core.
 *
 * Needs npm and the npm cache (third-party dependencies such as @msgpack/msgpack and ws come from
 * it, or from the registry the first time). The build is turbo's, cached in .turbo/.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  build,
  pack,
  publishablePackages,
  type RunResult,
  root,
  run,
  runOk,
  type WorkspacePackage,
} from '../scripts/packaging.mjs'

/** The backends swarmd always has, whatever is installed. */
const BUILT_INS = ['cli', 'remote']

/** The environment of a user's shell: nothing from the pnpm/vitest run that started this test. */
function userEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|INIT_CWD$|VITEST|NODE_OPTIONS$|TSX_)/i.test(key)) continue
    env[key] = value
  }
  return env
}

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']

/** Backend names in `swarmd`'s listing (lines "  NAME  summary", not the "usage:" lines). */
function listedBackends(listing: string): string[] {
  return [...listing.matchAll(/^ {2}([a-z0-9][a-z0-9._-]*) {2,}(?!usage:)/gm)].map((m) => m[1]!).sort()
}

/**
 * Every folder of the package `name` installed under `dir` (node_modules, nested node_modules too),
 * relative to `dir`: more than one means several copies of it are loaded.
 */
function installedCopies(dir: string, name: string): string[] {
  const found: string[] = []
  const visit = (modules: string) => {
    if (!existsSync(modules)) return
    if (existsSync(join(modules, name, 'package.json'))) found.push(relative(dir, join(modules, name)))
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const folder = join(modules, entry.name)
      const packages = entry.name.startsWith('@')
        ? readdirSync(folder).map((sub) => join(folder, sub))
        : [folder]
      for (const pkg of packages) visit(join(pkg, 'node_modules'))
    }
  }
  visit(join(dir, 'node_modules'))
  return found.sort()
}

function show(result: RunResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

describe('packaging: install only the adapters you need, as a user would', () => {
  const timings: string[] = []
  let work: string
  let project: string
  let installed: WorkspacePackage[]

  /** Runs a command in the user's project (outside the workspace) with the user's environment. */
  const inProject = (command: string, args: string[], input?: string) =>
    run(command, args, { cwd: project, env: userEnv(), input, timeoutMs: 60_000 })
  const swarmd = (args: string[], input?: string) => inProject('npx', ['--no', 'swarmd', ...args], input)

  async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
    const started = Date.now()
    try {
      return await step()
    } finally {
      timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'libswarm-packaging-'))
    expect(relative(root, work).startsWith('..'), 'the temp project must be outside the workspace').toBe(true)
    project = join(work, 'project')
    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'my-swarm', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    )

    const all = publishablePackages()
    const byName = (name: string) => {
      const found = all.find((pkg) => pkg.name === name)
      if (!found) throw new Error(`no workspace package ${name}`)
      return found
    }
    const swarmdPkg = byName('@libswarm/swarmd')
    const manifest = JSON.parse(readFileSync(join(swarmdPkg.dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>
    }
    const swarmdDeps = Object.keys(manifest.dependencies ?? {}).filter((dep) => dep.startsWith('@libswarm/'))
    installed = [
      ...new Set(['@libswarm/core', '@libswarm/swarmd', ...swarmdDeps, '@libswarm/adapter-simulator']),
    ].map(byName)

    await timed('build', () => build(installed.map((pkg) => pkg.name)))
    const tarballs = await timed('pack', () => pack(installed, join(work, 'tarballs')))
    await timed('npm install', () =>
      runOk('npm', ['install', ...NPM_FLAGS, ...tarballs], {
        cwd: project,
        env: userEnv(),
        timeoutMs: 180_000,
      }),
    )
  }, 300_000)

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true })
    if (timings.length > 0) console.log(`packaging: ${timings.join(', ')}`)
  })

  it('installs dist with types and no workspace ranges, and no tsx', () => {
    for (const pkg of installed) {
      const dir = join(project, 'node_modules', pkg.name)
      const manifest = readFileSync(join(dir, 'package.json'), 'utf8')
      expect(manifest, pkg.name).not.toContain('workspace:')
      expect(manifest, pkg.name).not.toContain('./src/')
      expect(existsSync(join(dir, 'dist', 'index.js')), `${pkg.name} dist/index.js`).toBe(true)
      expect(existsSync(join(dir, 'dist', 'index.d.ts')), `${pkg.name} dist/index.d.ts`).toBe(true)
      expect(existsSync(join(dir, 'test')), `${pkg.name} ships its tests`).toBe(false)
    }
    // One core for swarmd and its adapters: error classes cross them (instanceof decides exit codes).
    const nestedCores = installed.filter((pkg) =>
      existsSync(join(project, 'node_modules', pkg.name, 'node_modules', '@libswarm', 'core')),
    )
    expect(nestedCores.map((pkg) => pkg.name)).toEqual([])
    // swarmd runs from dist with plain Node: the development loader is not a dependency.
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false)
    expect(existsSync(join(project, 'node_modules', '@libswarm', 'adapter-debug'))).toBe(false)
  })

  it('installs exactly one @libswarm/core: the adapter and the transports take swarmd’s as their peer', async () => {
    const manifest = (name: string) =>
      JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string
        dependencies?: Record<string, string>
        peerDependencies?: Record<string, string>
      }
    const core = manifest('@libswarm/core')
    // What pnpm publishes for `workspace:^`: a caret range on the version, not the exact version.
    expect(manifest('@libswarm/swarmd').dependencies?.['@libswarm/core']).toBe(`^${core.version}`)
    const plugins = installed.filter((pkg) => /^@libswarm\/(adapter|transport)-/.test(pkg.name))
    expect(plugins.map((pkg) => pkg.name)).toContain('@libswarm/adapter-simulator')
    for (const { name } of plugins) {
      expect(manifest(name).dependencies?.['@libswarm/core'], name).toBeUndefined()
      expect(manifest(name).peerDependencies?.['@libswarm/core'], name).toBe(`^${core.version}`)
    }
    expect(installedCopies(project, '@libswarm/core')).toEqual([join('node_modules', '@libswarm', 'core')])
    // npm agrees: every peer is satisfied by that one copy (`npm ls` exits 1 on an invalid or missing one).
    const ls = await inProject('npm', ['ls', '@libswarm/core', '--all', '--json'])
    expect(ls.code, show(ls)).toBe(0)
    expect(JSON.parse(ls.stdout).problems ?? []).toEqual([])
  })

  it('`npx swarmd` lists exactly the installed adapter, plus the built-ins', async () => {
    const result = await swarmd([])
    expect(result.code, show(result)).toBe(0)
    expect(listedBackends(result.stdout)).toEqual([...BUILT_INS, 'simulator'].sort())
    expect(result.stdout).toContain('(@libswarm/adapter-simulator)')
  })

  it('runs a pipeline with it: cli simulator', async () => {
    const result = await swarmd(['cli', 'simulator'], 'spawn web\nls\n')
    expect(result.code, show(result)).toBe(0)
    expect(result.stdout).toMatch(/spawned web/)
    expect(result.stdout).toMatch(/sim-1/)
  })

  it('names the package to install when asked for an adapter that is not installed', async () => {
    const result = await swarmd(['etcd'])
    expect(result.code, show(result)).toBe(2)
    expect(result.stderr).toContain('npm install @libswarm/adapter-etcd')
  })

  it('loads every transport from dist, with the unix fd-passing addon built at install', async () => {
    const script = `
      const out = {}
      for (const [pkg, name] of [['tcp', 'tcp'], ['unix', 'unix'], ['tls', 'tls'], ['http2', 'http2'], ['websocket', 'websocket']]) {
        const mod = await import('@libswarm/transport-' + pkg)
        out[pkg] = typeof mod[name]
      }
      const unix = await import('@libswarm/transport-unix')
      out.fds = unix.fdPassingAvailable()
      console.log(JSON.stringify(out))
    `
    const result = await inProject('node', ['--input-type=module', '-e', script])
    expect(result.code, show(result)).toBe(0)
    const out = JSON.parse(result.stdout) as Record<string, unknown>
    expect(out).toMatchObject({
      tcp: 'function',
      unix: 'function',
      tls: 'function',
      http2: 'function',
      websocket: 'function',
    })
    // Where the workspace could build the addon (a C compiler is present), so could npm install.
    const built = existsSync(join(root, 'packages/transport-unix/build/Release/fdpass.node'))
    expect(out.fds).toBe(built)
  })

  it('type-checks a TypeScript program against the installed declarations (NodeNext)', async () => {
    writeFileSync(
      join(project, 'main.ts'),
      [
        "import { Client, notImplemented, pipe } from '@libswarm/core'",
        "import { backend } from '@libswarm/adapter-simulator'",
        "import { main } from '@libswarm/swarmd'",
        'const [receiver, sender] = pipe<string>()',
        "await sender.send('hi')",
        'const text: string = await receiver.receive()',
        'const controller = new AbortController()',
        'const service = await backend.spawn([], {',
        '  out: notImplemented,',
        '  signal: controller.signal,',
        "  spawn: () => Promise.reject(new Error('not used')),",
        '  log: () => {},',
        '})',
        'const names: string[] = await new Client(service).ls()',
        'controller.abort()',
        'export { main, names, text }',
        '',
      ].join('\n'),
    )
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = await inProject('node', [
      tsc,
      '--noEmit',
      '--strict',
      '--target',
      'ES2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--typeRoots',
      join(root, 'node_modules', '@types'),
      '--types',
      'node',
      'main.ts',
    ])
    expect(result.code, show(result)).toBe(0)
  })

  it('finds an adapter made by the generator outside the workspace once it is packed and installed', async () => {
    const dir = join(work, 'adapter-acme')
    const made = await runOk('node', [join(root, 'scripts/create-adapter.mjs'), 'acme', '--dir', dir])
    expect(made.stdout).toMatch(/Created @libswarm\/adapter-acme/)

    // What `npm install` in its folder would give it (its devDependencies are not all published yet):
    // TypeScript and Node's types from the workspace, @libswarm/core as the user installed it.
    const modules = join(dir, 'node_modules')
    mkdirSync(join(modules, '@libswarm'), { recursive: true })
    mkdirSync(join(modules, '@types'), { recursive: true })
    mkdirSync(join(modules, '.bin'), { recursive: true })
    symlinkSync(join(root, 'node_modules', 'typescript'), join(modules, 'typescript'))
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'))
    symlinkSync(join(project, 'node_modules', '@libswarm', 'core'), join(modules, '@libswarm', 'core'))
    symlinkSync(join('..', 'typescript', 'bin', 'tsc'), join(modules, '.bin', 'tsc'))

    // `npm pack` runs its prepack script (the build), as `npm publish` would.
    const packed = await timed('generated adapter pack', () =>
      runOk('npm', ['pack', '--loglevel=error', '--pack-destination', work], {
        cwd: dir,
        env: userEnv(),
        timeoutMs: 120_000,
      }),
    )
    const tarball = join(work, packed.stdout.trim().split('\n').pop()!)
    expect(existsSync(tarball), show(packed)).toBe(true)

    await timed('generated adapter install', () =>
      runOk('npm', ['install', ...NPM_FLAGS, '--offline', tarball], {
        cwd: project,
        env: userEnv(),
        timeoutMs: 120_000,
      }),
    )
    const listing = await swarmd([])
    expect(listing.code, show(listing)).toBe(0)
    expect(listedBackends(listing.stdout)).toEqual([...BUILT_INS, 'acme', 'simulator'].sort())
    expect(listing.stdout).toContain('(@libswarm/adapter-acme)')
    // Its peer range (^ the core it was generated against) takes the core swarmd brought.
    expect(installedCopies(project, '@libswarm/core')).toEqual([join('node_modules', '@libswarm', 'core')])

    const piped = await swarmd(['cli', 'acme first'], 'ls\n')
    expect(piped.code, show(piped)).toBe(0)
    expect(piped.stdout).toContain('first')
  }, 180_000)
})
