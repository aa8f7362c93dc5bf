/**
 * Type-checks every TypeScript sample in the documentation: each ```ts (or ```typescript) block in
 * docs/**\/*.md, packages/*\/README.md and apps/*\/README.md becomes a module under docs/.samples/,
 * where `@libswarm/*` imports resolve to the workspace packages, and `tsc` checks them all with the
 * project's strict settings. A block that is a fragment on purpose says so in its fence:
 * ```ts no-check (keep them rare). Exits non-zero, naming file and line, when a sample fails; the
 * extracted files then stay in docs/.samples/ to look at.
 *
 *   pnpm docs:check-samples            # from the repository root
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { packageFolders, repoRoot } from '../.vitepress/links.ts'

const docs = join(repoRoot, 'docs')
const out = join(docs, '.samples')

/** The Markdown files whose samples are checked (generated pages are copies, so they are skipped). */
function markdownFiles(): string[] {
  const files: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', '.vitepress', '.samples', 'packages', 'api'].includes(entry.name) && dir === docs)
        continue
      if (entry.name === 'node_modules') continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) files.push(path)
    }
  }
  walk(docs)
  for (const { folder } of packageFolders({ includePrivate: true }))
    files.push(join(repoRoot, folder, 'README.md'))
  return files
}

export interface Sample {
  file: string
  line: number
  code: string
}

/** The ```ts blocks of one Markdown text that are not marked no-check. */
export function extractSamples(file: string, text: string): Sample[] {
  const samples: Sample[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/.exec(lines[i]!)
    if (!open) continue
    const [, indent, fence, , info] = open
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !lines[j]!.trimStart().startsWith(fence!))
      body.push(lines[j++]!.slice(indent!.length))
    if (!/\bno-check\b/.test(info!)) samples.push({ file, line: i + 1, code: body.join('\n') })
    i = j
  }
  return samples
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const where = new Map<string, Sample>()
let count = 0
for (const file of markdownFiles()) {
  for (const sample of extractSamples(file, readFileSync(file, 'utf8'))) {
    const name = `${relative(repoRoot, file).replace(/[/.]/g, '_')}_L${sample.line}.ts`
    // `export {}` makes every sample a module, so top-level await works and names do not collide.
    writeFileSync(join(out, name), `${sample.code}\nexport {}\n`)
    where.set(name, sample)
    count++
  }
}
writeFileSync(
  join(out, 'tsconfig.json'),
  JSON.stringify(
    { extends: '../../tsconfig.base.json', compilerOptions: { noEmit: true }, include: ['*.ts'] },
    null,
    2,
  ),
)

const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
if (!existsSync(tsc)) throw new Error(`tsc not found at ${tsc}`)
const result = spawnSync(process.execPath, [tsc, '-p', join(out, 'tsconfig.json'), '--pretty', 'false'], {
  encoding: 'utf8',
})
// Point each error at the Markdown it came from: `docs/X.md:12 (sample line 3): error TS...`.
const errors = (result.stdout + result.stderr)
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => {
    const match = /^(?:docs\/)?\.samples\/([^(]+)\((\d+),(\d+)\): (.*)$/.exec(
      line.replace(/^.*?\.samples\//, '.samples/'),
    )
    const sample = match ? where.get(match[1]!) : undefined
    if (!match || !sample) return line
    return `${relative(repoRoot, sample.file)}:${sample.line + Number(match[2])}: ${match[4]}`
  })
// Errors inside the packages' own sources are the typecheck step's to report, not a sample's.
const sampleErrors = errors.filter(
  (line) => !/^\.\.\/|^(packages|apps)\/[^:]*\.ts\(/.test(line) || /README\.md:/.test(line),
)
if (result.status !== 0 && sampleErrors.length > 0) {
  console.error(sampleErrors.join('\n'))
  console.error(
    `\n${count} code samples checked; fix the ones above, or mark a deliberate fragment \`\`\`ts no-check`,
  )
  process.exit(1)
}
// Kept after a failure to look at; removed after a pass so the linter never sees generated files.
rmSync(out, { recursive: true, force: true })
console.log(`${count} code samples type-check`)
