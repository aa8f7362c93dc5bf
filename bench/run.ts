/**
 * The benchmark runner: every suite in its own process (with --expose-gc, so memory figures are
 * clean), one table at the end, the same figures as JSON in bench/results/latest.json.
 *
 *   pnpm bench                       # full run (several minutes on 2 cores)
 *   pnpm bench --quick               # under a minute: checks that every benchmark runs, not how fast
 *   pnpm bench --only rpc,streams    # some suites
 *
 * Every comparison is measured in the same run, the two sides alternating, and reported as the
 * median over rounds; ratios are medians of the per-round ratios.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Row } from './lib/common.ts'

const here = dirname(fileURLToPath(import.meta.url))
const SUITES = ['messages', 'rpc', 'streams', 'scale', 'nesting', 'swarmd', 'docker', 'clouds'] as const

const quick = process.argv.includes('--quick')
const onlyAt = process.argv.indexOf('--only')
const only = onlyAt > 0 ? process.argv[onlyAt + 1]!.split(',') : undefined
const unknown = only?.filter((name) => !(SUITES as readonly string[]).includes(name)) ?? []
if (unknown.length > 0) {
  console.error(`bench: unknown suite(s) ${unknown.join(', ')} (have: ${SUITES.join(', ')})`)
  process.exit(2)
}
const selected = SUITES.filter((name) => !only || only.includes(name))

const temp = mkdtempSync(join(tmpdir(), 'swarm-bench-run-'))
const rows: Row[] = []
const failures: string[] = []
const started = performance.now()
for (const name of selected) {
  const out = join(temp, `${name}.json`)
  const t0 = performance.now()
  process.stderr.write(`bench: ${name}...`)
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, '--expose-gc', join(here, 'suite.ts'), name, '--out', out].concat(
      quick ? ['--quick'] : [],
    ),
    { stdio: ['ignore', 'inherit', 'inherit'], timeout: quick ? 120_000 : 1_200_000 },
  )
  const seconds = ((performance.now() - t0) / 1000).toFixed(1)
  if (child.status === 0) {
    rows.push(...(JSON.parse(readFileSync(out, 'utf8')) as Row[]))
    process.stderr.write(` ${seconds} s\n`)
  } else {
    const why =
      child.error?.message ?? (child.signal ? `killed by ${child.signal}` : `exit code ${child.status}`)
    failures.push(`${name}: ${why}`)
    rows.push({ section: name, name: 'suite', value: null, unit: '', note: `FAILED: ${why}` })
    process.stderr.write(` FAILED (${why})\n`)
  }
}
rmSync(temp, { recursive: true, force: true })

const number = (n: number) =>
  Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n >= 100 ? n.toFixed(0) : n.toFixed(1)
const header = ['section', 'case', 'libswarm', 'unit', 'baseline', 'baseline value', 'ratio', 'target', 'met']
const cells = rows.map((r) => [
  r.section,
  r.name,
  r.value === null ? 'n/a' : number(r.value),
  r.unit,
  r.baseline ?? (r.note ? `(${r.note})` : ''),
  r.baselineValue === undefined ? '' : number(r.baselineValue),
  r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
  r.target ?? '',
  r.met === undefined ? '' : r.met ? 'yes' : 'NO',
])
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
const line = (c: string[]) =>
  c
    .map((cell, i) => cell.padEnd(widths[i]!))
    .join('  ')
    .trimEnd()
const machine = `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${quick ? 'quick' : 'full'} run`
console.log(machine)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('  '))
for (const c of cells) console.log(line(c))
const total = ((performance.now() - started) / 1000).toFixed(0)
console.log(`${rows.length} rows in ${total} s; ratios are libswarm / baseline (medians over rounds)`)

const results = join(here, 'results')
mkdirSync(results, { recursive: true })
writeFileSync(
  join(results, quick ? 'quick.json' : 'latest.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, quick, rows }, null, 2)}\n`,
)
if (failures.length > 0) {
  console.error(`bench: ${failures.length} suite(s) failed:\n  ${failures.join('\n  ')}`)
  process.exit(1)
}
