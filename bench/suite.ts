/**
 * Runs one suite in this process and writes its rows as JSON to the file named by `--out`.
 * The runner (run.ts) starts one process per suite with --expose-gc, so memory figures of one
 * suite are not disturbed by another's garbage.
 *
 *   npx tsx --expose-gc bench/suite.ts messages [--quick] [--out rows.json]
 */
import { writeFileSync } from 'node:fs'
import type { Row } from './lib/common.ts'

const name = process.argv[2]
const outAt = process.argv.indexOf('--out')
const out = outAt > 0 ? process.argv[outAt + 1] : undefined
if (!name || name.startsWith('-')) {
  console.error('usage: suite.ts NAME [--quick] [--out FILE]')
  process.exit(2)
}
const suite = (await import(`./suites/${name}.ts`)) as { run(): Promise<Row[]> }
const rows = await suite.run()
if (out) writeFileSync(out, JSON.stringify(rows))
else console.log(JSON.stringify(rows, null, 2))
process.exit(0)
