#!/usr/bin/env node
/**
 * Checks what npm users would get: packs every published package with `pnpm pack` (as
 * `pnpm release` publishes it) and lints each tarball with publint (warnings are errors) and
 * @arethetypeswrong/cli (profile esm-only: the packages are ES modules only, so the CommonJS
 * and node10 resolutions do not apply), and checks that no `workspace:` range leaks out.
 * Run `pnpm build` first. `.ci/run` runs this as `pnpm check:packages`.
 *
 *   node scripts/check-packages.mjs [NAME...]   only the named packages (default: all)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { pack, publishablePackages, root, run } from './packaging.mjs'

const only = process.argv.slice(2)
const packages = publishablePackages().filter((pkg) => only.length === 0 || only.includes(pkg.name))
if (packages.length === 0) {
  process.stderr.write(`check-packages: no published package named ${only.join(', ')}\n`)
  process.exit(2)
}

/** package/package.json from a .tgz (a tar of 512-byte headers and blocks), without unpacking it. */
function manifestOf(tarball) {
  const tar = gunzipSync(readFileSync(tarball))
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = tar
      .subarray(offset, offset + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '')
    if (name === '') break
    const size = Number.parseInt(
      tar
        .subarray(offset + 124, offset + 136)
        .toString('utf8')
        .trim(),
      8,
    )
    if (name === 'package/package.json') {
      return JSON.parse(tar.subarray(offset + 512, offset + 512 + size).toString('utf8'))
    }
    offset += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${tarball} has no package/package.json`)
}

const started = Date.now()
const dest = mkdtempSync(join(tmpdir(), 'libswarm-check-packages-'))
const failures = []
try {
  const tarballs = await pack(packages, dest)
  let next = 0
  const check = async () => {
    while (next < packages.length) {
      const index = next++
      const pkg = packages[index]
      const tarball = tarballs[index]
      const problems = []

      const manifest = manifestOf(tarball)
      for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
          if (String(range).startsWith('workspace:')) problems.push(`${field}.${dep} is still "${range}"`)
        }
      }
      if (JSON.stringify(manifest.exports ?? {}).includes('/src/'))
        problems.push('the packed "exports" still point at src/ (publishConfig.exports not applied)')

      const buffer = readFileSync(tarball)
      const lint = await publint({
        pack: { tarball: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) },
        level: 'warning',
        strict: true,
      })
      for (const message of lint.messages) {
        problems.push(`publint: ${formatMessage(message, lint.pkg, { color: false }) ?? message.code}`)
      }

      const attw = await run(
        join(root, 'node_modules', '.bin', 'attw'),
        [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color', '--no-emoji'],
        { timeoutMs: 120_000 },
      )
      if (attw.code !== 0) problems.push(`attw:\n${(attw.stdout + attw.stderr).trim()}`)

      process.stdout.write(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${pkg.name}\n`)
      for (const problem of problems) process.stdout.write(`     ${problem.replace(/\n/g, '\n     ')}\n`)
      if (problems.length > 0) failures.push(pkg.name)
    }
  }
  await Promise.all([check(), check()])
} finally {
  rmSync(dest, { recursive: true, force: true })
}

const seconds = ((Date.now() - started) / 1000).toFixed(1)
if (failures.length > 0) {
  process.stdout.write(
    `\n${failures.length} of ${packages.length} packages failed (${seconds} s): ${failures.join(', ')}\n`,
  )
  process.exit(1)
}
process.stdout.write(`\n${packages.length} packages pass publint and attw (${seconds} s)\n`)
