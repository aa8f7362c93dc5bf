/**
 * The adapter generator (`pnpm create-adapter`, scripts/create-adapter.mjs) produces a package whose
 * own tests pass on the first run. It lives here because this package has what a generated adapter
 * needs installed (@libswarm/core, @libswarm/adapter-compliance, vitest): the package is generated
 * into a temporary folder inside this one, so Node finds them by walking up, as it would in the
 * workspace after `pnpm install`.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const here = fileURLToPath(new URL('..', import.meta.url))
const root = join(here, '../..')
const script = join(root, 'scripts/create-adapter.mjs')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(args: string[], cwd: string, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd,
        timeout,
        // NESTED stops this file from running again inside the generated package's test run.
        env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', [NESTED]: '1' },
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const NESTED = 'LIBSWARM_CREATE_ADAPTER_TEST'

describe.skipIf(process.env[NESTED] === '1')('create-adapter', () => {
  let tmp: string
  let target: string
  let created: Run

  beforeAll(async () => {
    tmp = await mkdtemp(join(here, '.generated-'))
    target = join(tmp, 'adapter-gen-test')
    created = await run([script, 'gen-test', '--dir', target], root)
  })
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true })
  })

  it('generates a complete package', () => {
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    expect(created.stdout).toMatch(/^Created @libswarm\/adapter-gen-test in /)
    for (const file of [
      'package.json',
      'README.md',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/index.ts',
      'src/internal/backend.ts',
      'test/compliance.test.ts',
    ]) {
      expect(existsSync(join(target, file)), file).toBe(true)
    }
    const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'))
    expect(pkg.name).toBe('@libswarm/adapter-gen-test')
    expect(pkg.type).toBe('module')
    expect(pkg.publishConfig.access).toBe('public')
    // core is a peer (one copy, the app's, shared by every adapter) plus a devDependency for its tests.
    expect(pkg.dependencies?.['@libswarm/core']).toBeUndefined()
    expect(pkg.peerDependencies['@libswarm/core']).toBe('workspace:^')
    expect(pkg.devDependencies['@libswarm/core']).toBe('workspace:*')
    const all = [
      'package.json',
      'README.md',
      'src/index.ts',
      'src/internal/backend.ts',
      'test/compliance.test.ts',
    ]
      .map((file) => readFileSync(join(target, file), 'utf8'))
      .join('\n')
    expect(all).not.toMatch(/__[A-Z_]+__/)
    expect(readFileSync(join(target, 'README.md'), 'utf8')).toMatch(/```ts/)
  })

  it('passes its own tests (the compliance suite) on the first run', async () => {
    const vitest = join(root, 'node_modules/vitest/vitest.mjs')
    // Its own config, so vitest does not walk up to the workspace's and run every project.
    const config = join(target, 'vitest.config.ts')
    const result = await run([vitest, 'run', '--root', target, '--config', config, '--reporter=dot'], target)
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0)
    // The suite runs ~20 cases in memory and ~20 over a session; a handful is not it.
    const passed = Number(/Tests\s+(\d+) passed/.exec(result.stdout)?.[1] ?? 0)
    expect(passed, result.stdout).toBeGreaterThanOrEqual(20)
    expect(result.stdout).not.toMatch(/failed/)
  }, 120_000)

  it('typechecks and lints clean', async () => {
    const tsc = await run([join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', target], target)
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0)
    const biome = await run(
      [join(root, 'node_modules/@biomejs/biome/bin/biome'), 'check', target, '--colors=off'],
      root,
    )
    expect(biome.code, biome.stdout + biome.stderr).toBe(0)
  }, 120_000)

  it('refuses bad names and existing folders with a clear message', async () => {
    const bad = await run([script, 'Bad Name', '--dir', join(tmp, 'x')], root)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/invalid name "Bad Name": use lowercase letters/)
    const exists = await run([script, 'gen-test', '--dir', target], root)
    expect(exists.code).toBe(1)
    expect(exists.stderr).toMatch(/already exists and is not empty/)
    const none = await run([script], root)
    expect(none.stderr).toMatch(/missing the adapter name\nusage: pnpm create-adapter <name>/)
  })

  it('uses npm versions outside this repository', async () => {
    const outside = await mkdtemp(join(fileURLToPath(new URL('file:///tmp/')), 'create-adapter-'))
    try {
      const made = await run([script, 'elsewhere', '--dir', join(outside, 'pkg')], root)
      expect(made.code, made.stderr).toBe(0)
      const pkg = JSON.parse(readFileSync(join(outside, 'pkg/package.json'), 'utf8'))
      expect(pkg.dependencies?.['@libswarm/core']).toBeUndefined()
      expect(pkg.peerDependencies['@libswarm/core']).toMatch(/^\^\d+\.\d+\.\d+/)
      expect(pkg.devDependencies['@libswarm/core']).toMatch(/^\^\d+\.\d+\.\d+/)
      expect(pkg.devDependencies['@libswarm/adapter-compliance']).toMatch(/^\^\d+\.\d+\.\d+/)
    } finally {
      await rm(outside, { recursive: true, force: true })
    }
  })
})
