/**
 * docker CLI latency through libswarm against the CLI talking to dockerd directly, in one run.
 *
 *   npx tsx bench/docker.bench.ts           # 40 rounds
 *   npx tsx bench/docker.bench.ts --quick   # 8 rounds
 *   ... --json FILE                         # also write the medians as JSON (the runner's docker suite)
 *
 * Needs root, Debian's docker.io and busybox-static, and the docker CLI. A test dockerd is started in
 * a temp folder (and stopped after); the pipeline is dockerserver -> dockerclient -> dockerd, in this
 * process. Each round runs `docker ps -a` and `docker inspect NAME` once through each path,
 * alternating which goes first; the table shows medians and the ratio (target: at most 1.3x).
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dockerClient } from '../packages/adapter-docker/src/index.ts'
import { dockerCli, dockerdAvailable, startDockerd } from '../packages/adapter-docker/src/testing.ts'
import { dockerServer } from '../packages/adapter-dockerserver/src/index.ts'

const quick = process.argv.includes('--quick')
const rounds = quick ? 8 : 40
const containers = 5

const available = dockerdAvailable()
const cli = dockerCli()
if (!available.ok || !cli) {
  console.error(
    `docker.bench: cannot run here: ${available.ok ? 'the docker CLI is not installed' : available.reason}`,
  )
  process.exit(1)
}

function run(host: string, args: string[], configDir: string): Promise<number> {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    execFile(
      cli!,
      args,
      { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: configDir }, timeout: 30_000 },
      (error, _out, stderr) => {
        if (error) reject(new Error(`docker ${args.join(' ')} failed: ${stderr}`))
        else resolve(Number(process.hrtime.bigint() - started) / 1e6)
      },
    )
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const dockerd = await startDockerd()
const controller = new AbortController()
try {
  const D = dockerd.host
  const config = join(dockerd.dir, 'cli')
  for (let i = 0; i < containers; i++) {
    await run(D, ['create', '--name', `c${i}`, 'bb', 'sleep', '60'], config)
  }
  const server = await dockerServer({
    url: `unix://${join(dockerd.dir, 'front.sock')}`,
    out: dockerClient({ url: D, signal: controller.signal }),
    signal: controller.signal,
  })
  const S = server.url
  const cases: { name: string; args: string[] }[] = [
    { name: `docker ps -a (${containers} containers)`, args: ['ps', '-a'] },
    { name: 'docker inspect c0', args: ['inspect', 'c0'] },
  ]
  // Warm up both paths (CLI page cache, dockerd caches, JIT).
  for (const c of cases) {
    for (let i = 0; i < 3; i++) {
      await run(S, c.args, config)
      await run(D, c.args, config)
    }
  }

  const rows: string[][] = []
  const figures: { name: string; direct: number; through: number; ratio: number }[] = []
  for (const c of cases) {
    const direct: number[] = []
    const through: number[] = []
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        direct.push(await run(D, c.args, config))
        through.push(await run(S, c.args, config))
      } else {
        through.push(await run(S, c.args, config))
        direct.push(await run(D, c.args, config))
      }
    }
    const d = median(direct)
    const t = median(through)
    rows.push([c.name, d.toFixed(1), t.toFixed(1), `${(t / d).toFixed(2)}x`])
    figures.push({ name: c.name, direct: d, through: t, ratio: t / d })
  }
  await server.close()
  const jsonAt = process.argv.indexOf('--json')
  if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify(figures))

  const header = ['case', 'direct ms (median)', 'via libswarm ms (median)', 'ratio']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')
  console.log(
    `docker CLI latency, ${rounds} rounds each (dockerserver -> dockerclient -> dockerd vs dockerd)`,
  )
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
} finally {
  controller.abort()
  await dockerd.stop()
}
