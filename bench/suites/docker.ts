/**
 * The docker rows: the docker CLI through dockerserver -> dockerclient -> a real dockerd against the
 * CLI talking to dockerd directly (bench/docker.bench.ts, run as a child process). Not available
 * where dockerd cannot run (not root, no docker.io or busybox-static).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dockerCli, dockerdAvailable } from '@libswarm/adapter-docker/testing'
import { quick, type Row } from '../lib/common.ts'

export async function run(): Promise<Row[]> {
  const available = dockerdAvailable()
  const why = !available.ok ? available.reason : dockerCli() ? undefined : 'the docker CLI is not installed'
  if (why)
    return [
      {
        section: 'docker',
        name: 'docker CLI via libswarm',
        value: null,
        unit: 'ms',
        note: `not available: ${why}`,
      },
    ]
  const dir = mkdtempSync(join(tmpdir(), 'swarm-bench-docker-'))
  try {
    const out = join(dir, 'docker.json')
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'docker.bench.ts')
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, script, '--json', out].concat(quick ? ['--quick'] : []),
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 600_000,
      },
    )
    if (child.status !== 0)
      throw new Error(`docker.bench.ts failed (${child.signal ?? `exit code ${child.status}`})`)
    const figures = JSON.parse(readFileSync(out, 'utf8')) as {
      name: string
      direct: number
      through: number
      ratio: number
    }[]
    return figures.map((f) => ({
      section: 'docker',
      name: f.name,
      value: f.through,
      unit: 'ms',
      baseline: 'the docker CLI to dockerd directly',
      baselineValue: f.direct,
      ratio: f.ratio,
      target: '<= 1.3',
      met: f.ratio <= 1.3,
    }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
