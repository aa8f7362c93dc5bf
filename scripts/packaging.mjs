/**
 * Helpers shared by scripts/check-packages.mjs and test/packaging.integration.test.ts: which
 * workspace packages are published, building them through turbo, and packing them with `pnpm pack`
 * (which applies `publishConfig`, so the tarball's `exports` point at dist/ and `workspace:*`
 * becomes a version).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The pnpm this repository pins (package.json `packageManager`), run through npx. */
export const PNPM = ['npx', '-y', 'pnpm@10.34.9']

/** Every package that is published: { name, dir, version } for packages/* and apps/* not marked private. */
export function publishablePackages() {
  return ['packages', 'apps'].flatMap((group) => {
    const base = join(root, group)
    if (!existsSync(base)) return []
    return readdirSync(base, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(base, entry.name, 'package.json')))
      .map((entry) => {
        const dir = join(base, entry.name)
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
        return { name: pkg.name, version: pkg.version, private: pkg.private === true, dir }
      })
      .filter((pkg) => !pkg.private)
  })
}

/**
 * Runs a command; resolves with { code, stdout, stderr }. Rejects only if it cannot start or runs
 * longer than `timeoutMs` (it is then killed).
 */
export function run(command, args, { cwd = root, env, input, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} took longer than ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })
    })
    child.stdin.end(input ?? '')
  })
}

/** Like {@link run} but rejects (with the output) on a non-zero exit. */
export async function runOk(command, args, options) {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    )
  }
  return result
}

/**
 * Builds the named packages and the workspace packages they depend on, through turbo (cached in
 * .turbo/). Run under pnpm, which turbo needs on the PATH.
 */
export async function build(names) {
  const [command, ...args] = PNPM
  const filters = names.map((name) => `--filter=${name}`)
  await runOk(command, [...args, 'exec', 'turbo', 'run', 'build', '--output-logs=errors-only', ...filters], {
    env: { TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  })
}

/** The tarball name `pnpm pack` gives a package: `@libswarm/core@0.0.0` -> `libswarm-core-0.0.0.tgz`. */
export function tarballName(name, version) {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`
}

/**
 * Packs the given packages (built already) into `dest` with one `pnpm -r pack`.
 * Returns the tarball paths, in the order given.
 */
export async function pack(packages, dest) {
  mkdirSync(dest, { recursive: true })
  for (const pkg of packages) {
    if (!existsSync(join(pkg.dir, 'dist'))) {
      throw new Error(`${pkg.name} has no dist/; run: npx -y pnpm@10.34.9 build`)
    }
  }
  const [command, ...args] = PNPM
  const filters = packages.map((pkg) => `--filter=${pkg.name}`)
  await runOk(command, [...args, '-r', ...filters, 'pack', '--pack-destination', dest])
  return packages.map((pkg) => {
    const file = join(dest, tarballName(pkg.name, pkg.version))
    if (!existsSync(file)) throw new Error(`pnpm pack wrote no ${file}`)
    return file
  })
}
