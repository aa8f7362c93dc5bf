/**
 * The docker CLI example: the real docker CLI against `swarmd 'dockerserver unix://...' simulator`.
 * Skipped with a reason when the CLI is missing, except in CI where that is a failure.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { run } from './helpers.ts'

function dockerCli(): string | undefined {
  for (const candidate of [process.env.DOCKER_CLI, '/usr/local/bin/docker', '/usr/bin/docker']) {
    if (!candidate) continue
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore', timeout: 10_000 })
      return candidate
    } catch {}
  }
  return undefined
}

const cli = dockerCli()
const missing = cli ? undefined : 'the docker CLI is not installed (apt-get install docker.io)'
if (missing && process.env.CI) throw new Error(`CI is set and ${missing}`)

describe.skipIf(missing !== undefined)(
  `docker CLI in front of the simulator${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('runs, lists, stops and inspects containers through swarmd', async () => {
      process.env.DOCKER_CLI = cli
      const output = await run('docker-cli/run.ts', [], 60_000)
      expect(output).toContain('server API 1.41')
      expect(output).toMatch(/db\tpostgres:16\trunning\nweb\tnginx:alpine\trunning\n/)
      expect(output).toMatch(/db\texited\nweb\trunning\n/)
      expect(output).toContain('/web running nginx:alpine')
    })
  },
)
