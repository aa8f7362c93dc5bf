import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '../../..')

interface JsonReport {
  testResults: { assertionResults: { title: string; status: string; ancestorTitles: string[] }[] }[]
}

describe('the suite catches a broken adapter', () => {
  it('fails exactly the cases the broken adapter breaks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapter-compliance-'))
    const out = join(dir, 'report.json')
    try {
      await new Promise<void>((resolve) => {
        execFile(
          process.execPath,
          [
            join(root, 'node_modules/vitest/vitest.mjs'),
            'run',
            '--config',
            join(here, 'fixtures/vitest.config.ts'),
            '--reporter=json',
            `--outputFile=${out}`,
          ],
          { cwd: root, timeout: 60_000, env: { ...process.env, CI: '' } },
          () => resolve(), // it exits non-zero: failures are expected
        )
      })
      const report = JSON.parse(await readFile(out, 'utf8')) as JsonReport
      const results = report.testResults.flatMap((file) => file.assertionResults)
      const failed = results.filter((r) => r.status === 'failed').map((r) => r.title)
      const passed = results.filter((r) => r.status === 'passed').map((r) => r.title)
      expect(failed.sort()).toEqual(
        [
          'what Ls lists can be attached and described',
          'Start and Stop change what Get reports',
          'Watch reports the change',
          'the skip list names only existing cases, each with a reason',
          'verbs it does not implement answer not implemented',
        ].sort(),
      )
      expect(passed).toContain('Ls answers the names, sorted')
      expect(passed).toContain('Get describes the instance as JSON')
      expect(passed).toContain('bad spawn arguments answer InvalidArgument with the usage line')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
