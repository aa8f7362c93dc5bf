/** Two different members, a real dockerd and the simulator, seen as one host through the docker CLI. */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { backend as dockerclient } from '@libswarm/adapter-docker'
import { dockerCli, dockerdAvailable, startDockerd, type TestDockerd } from '@libswarm/adapter-docker/testing'
import { type DockerServer, dockerServer } from '@libswarm/adapter-dockerserver'
import { backend as simulator } from '@libswarm/adapter-simulator'
import { BackendRegistry } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend as aggregate } from '../src/index.ts'

const daemon = dockerdAvailable()
const reason = !daemon.ok ? daemon.reason : dockerCli() ? undefined : 'the docker CLI is not installed'
if (reason && process.env.CI)
  throw new Error(`the aggregate integration test needs dockerd and the docker CLI in CI: ${reason}`)

function docker(host: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      dockerCli()!,
      args,
      {
        env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(host.slice(7), '..', 'cli') },
        timeout: 20_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    )
  })
}

describe.skipIf(reason !== undefined)(
  `aggregate of dockerclient and simulator through the docker CLI${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    let dockerd: TestDockerd
    let server: DockerServer
    const controller = new AbortController()
    let S: string

    beforeAll(async () => {
      dockerd = await startDockerd()
      const made = await docker(dockerd.host, ['create', '--name', 'real', 'bb', 'sleep', '60'])
      expect(made.code, made.stderr).toBe(0)
      const registry = new BackendRegistry([aggregate, dockerclient, simulator])
      const out = await registry.spawn(
        ['aggregate', `docker=dockerclient ${dockerd.host}`, 'sim=simulator fake'],
        {
          signal: controller.signal,
        },
      )
      server = await dockerServer({
        url: `unix://${join(dockerd.dir, 'agg.sock')}`,
        out,
        signal: controller.signal,
      })
      S = server.url
    })
    afterAll(async () => {
      controller.abort()
      await server?.close()
      await dockerd?.stop()
    })

    it('docker ps -a shows the containers of both members, named after where they live', async () => {
      const ps = await docker(S, ['ps', '-a', '--format', '{{.Names}} {{.Image}}'])
      expect(ps.code, ps.stderr).toBe(0)
      expect(ps.stdout.split('\n').filter(Boolean).sort()).toEqual([
        'docker:real bb',
        'sim:fake busybox:latest',
      ])
    })

    it('docker inspect and start reach the owner of each', async () => {
      const real = await docker(S, ['inspect', '--format', '{{.Name}} {{.Config.Image}}', 'real'])
      expect(real.stdout.trim()).toBe('/real bb')
      const fake = await docker(S, ['inspect', '--format', '{{.Name}} {{.Config.Image}}', 'fake'])
      expect(fake.stdout.trim()).toBe('/fake busybox:latest')
      expect((await docker(S, ['start', 'fake'])).code).toBe(0)
      const state = await docker(S, ['inspect', '--format', '{{.State.Status}}', 'fake'])
      expect(state.stdout.trim()).toBe('running')
      const missing = await docker(S, ['inspect', 'nowhere'])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain('No such object: nowhere')
    })

    it('docker run -d goes round robin across members', async () => {
      const first = await docker(S, ['run', '-d', '--name', 'one', 'bb', 'sleep', '60'])
      const second = await docker(S, ['run', '-d', '--name', 'two', 'bb', 'sleep', '60'])
      expect(first.code, first.stderr).toBe(0)
      expect(second.code, second.stderr).toBe(0)
      const onDocker = await docker(dockerd.host, ['ps', '-a', '--format', '{{.Names}}'])
      const names = onDocker.stdout.split('\n').filter(Boolean)
      // One of the two landed on dockerd, the other on the simulator.
      expect(names.filter((n) => n === 'one' || n === 'two')).toHaveLength(1)
      const all = await docker(S, ['ps', '--format', '{{.Names}}'])
      expect(all.stdout).toContain('one')
      expect(all.stdout).toContain('two')
      await docker(dockerd.host, ['rm', '-f', 'one', 'two', 'real'])
    })
  },
)
