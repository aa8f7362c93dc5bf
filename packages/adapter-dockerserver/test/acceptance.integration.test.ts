/**
 * The acceptance pipeline: `swarmd 'dockerserver unix://$S' debug 'dockerclient unix://$D'` with a
 * real dockerd at $D. The real docker CLI pointed at $S must get the same results as pointed at $D.
 * Then the same front with `simulator` as the last stage.
 */
import { join } from 'node:path'
import { startDockerd, type TestDockerd } from '@libswarm/adapter-docker/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  docker,
  dockerBackground,
  missingReason,
  type Run,
  type Swarmd,
  startSwarmd,
  stopChild,
  waitForOutput,
  warmUpEvents,
} from './support.ts'

const reason = missingReason()
if (reason && process.env.CI) {
  throw new Error(`the dockerserver integration tests need a real dockerd and docker CLI in CI: ${reason}`)
}

describe.skipIf(reason !== undefined)(
  `docker CLI through swarmd dockerserver | debug | dockerclient${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    let dockerd: TestDockerd
    let swarmd: Swarmd
    let S: string
    let D: string

    beforeAll(async () => {
      dockerd = await startDockerd()
      const socket = join(dockerd.dir, 'front.sock')
      S = `unix://${socket}`
      D = dockerd.host
      swarmd = await startSwarmd([`dockerserver ${S}`, 'debug', `dockerclient ${D}`], socket)
    })
    afterAll(async () => {
      await swarmd?.stop()
      await dockerd?.stop()
    })

    const both = async (args: string[]): Promise<[Run, Run]> => [await docker(S, args), await docker(D, args)]

    it('docker version and info show the engine behind the pipeline', async () => {
      const [viaS, viaD] = await both([
        'version',
        '--format',
        '{{.Server.Version}} {{.Server.Os}} {{.Server.Arch}}',
      ])
      expect(viaS.code, viaS.stderr).toBe(0)
      expect(viaS.stdout).toBe(viaD.stdout)
      const version = await docker(S, ['version'])
      expect(version.stdout).toMatch(/API version:\s+1\.41 \(downgraded from/)
      const [infoS, infoD] = await both(['info', '--format', '{{.ServerVersion}} {{.Driver}}'])
      expect(infoS.code, infoS.stderr).toBe(0)
      expect(infoS.stdout).toBe(infoD.stdout)
    })

    it('docker run attached propagates output and exit code 3', async () => {
      const viaD = await docker(D, ['run', '--name', 'exit3d', 'bb', 'sh', '-c', 'echo out; exit 3'])
      const viaS = await docker(S, ['run', '--name', 'exit3', 'bb', 'sh', '-c', 'echo out; exit 3'])
      expect(viaD.code).toBe(3)
      expect(viaS.code, viaS.stderr).toBe(3)
      expect(viaS.stdout).toBe('out\n')
      expect(viaS.stdout).toBe(viaD.stdout)
    })

    it('docker run -d, ps -a, inspect, logs -f, stop, rm agree with dockerd', async () => {
      const run = await docker(S, ['run', '-d', '--name', 'web', 'bb', 'sh', '-c', 'echo first; sleep 60'])
      expect(run.code, run.stderr).toBe(0)
      const id = run.stdout.trim()
      expect(id).toMatch(/^[0-9a-f]{64}$/)

      const format = '{{.ID}}|{{.Image}}|{{.Command}}|{{.Names}}|{{.State}}'
      const [psS, psD] = await both(['ps', '-a', '--format', format])
      expect(psS.code, psS.stderr).toBe(0)
      expect(psS.stdout).toBe(psD.stdout)
      expect(psS.stdout).toContain(`${id.slice(0, 12)}|bb|"sh -c 'echo first; …"|web|running`)
      const table = await docker(S, ['ps', '-a'])
      expect(table.stdout.split('\n')[0]).toMatch(
        /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/,
      )
      const [runningS, runningD] = await both(['ps', '--format', '{{.Names}}'])
      expect(runningS.stdout).toBe(runningD.stdout)
      expect(runningS.stdout.trim()).toBe('web')

      const [inspectS, inspectD] = await both([
        'inspect',
        '--format',
        '{{.Id}} {{.Name}} {{.State.Status}} {{.Config.Image}}',
        'web',
      ])
      expect(inspectS.code, inspectS.stderr).toBe(0)
      expect(inspectS.stdout).toBe(inspectD.stdout)
      const [missingS, missingD] = await both(['inspect', 'nosuch'])
      expect(missingS.code).toBe(1)
      expect(missingS.stderr).toContain('No such object: nosuch')
      expect(missingS.stderr).toBe(missingD.stderr)

      const [logsS, logsD] = await both(['logs', 'web'])
      expect(logsS.stdout).toBe('first\n')
      expect(logsS.stdout).toBe(logsD.stdout)

      const follow = await docker(S, [
        'run',
        '-d',
        '--name',
        'talker',
        'bb',
        'sh',
        '-c',
        'echo a; sleep 0.5; echo b',
      ])
      expect(follow.code, follow.stderr).toBe(0)
      const followed = await docker(S, ['logs', '-f', 'talker'])
      expect(followed.code, followed.stderr).toBe(0)
      expect(followed.stdout).toBe('a\nb\n')

      const stop = await docker(S, ['stop', '-t', '1', 'web'])
      expect(stop.code, stop.stderr).toBe(0)
      expect(stop.stdout.trim()).toBe('web')
      const [stateS, stateD] = await both([
        'inspect',
        '--format',
        '{{.State.Status}} {{.State.ExitCode}}',
        'web',
      ])
      expect(stateS.stdout).toBe(stateD.stdout)
      expect(stateS.stdout.trim()).toMatch(/^exited \d+$/)

      const rm = await docker(S, ['rm', 'web', 'talker', 'exit3', 'exit3d'])
      expect(rm.code, rm.stderr).toBe(0)
      const after = await docker(D, ['ps', '-a', '--format', '{{.Names}}'])
      expect(after.stdout.trim()).toBe('')
    })

    it('docker run --rm and rm -f', async () => {
      const run = await docker(S, ['run', '--rm', 'bb', 'sh', '-c', 'echo gone'])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toBe('gone\n')
      const running = await docker(S, ['run', '-d', '--name', 'busy', 'bb', 'sleep', '60'])
      expect(running.code, running.stderr).toBe(0)
      const [plainS, plainD] = await both(['rm', 'busy'])
      expect(plainS.code).toBe(1)
      expect(plainS.stderr).toBe(plainD.stderr)
      const force = await docker(S, ['rm', '-f', 'busy'])
      expect(force.code, force.stderr).toBe(0)
      expect((await docker(D, ['ps', '-a', '-q'])).stdout.trim()).toBe('')
    })

    it('errors print like dockerd errors', async () => {
      const [startS, startD] = await both(['start', 'nosuch'])
      expect(startS.code).toBe(1)
      expect(startS.stderr).toBe(startD.stderr)
      expect(startS.stderr).toContain('No such container: nosuch')
    })

    it('docker events streams while things change, like dockerd', async () => {
      const format = [
        'events',
        '--filter',
        'type=container',
        '--format',
        '{{.Action}} {{.Actor.Attributes.name}}',
      ]
      const viaS = dockerBackground(S, format)
      const viaD = dockerBackground(D, format)
      try {
        // Both streams are open once the CLI has its response headers; a create that races ahead would
        // be missing from one, so wait until each reports a probe container.
        const probes = await warmUpEvents([viaS, viaD], async (name) => {
          const probe = await docker(D, ['create', '--name', name, 'bb', 'true'])
          expect(probe.code, probe.stderr).toBe(0)
        })
        const run = await docker(S, ['run', '--name', 'ev', 'bb', 'sh', '-c', 'exit 0'])
        expect(run.code, run.stderr).toBe(0)
        expect((await docker(S, ['rm', 'ev', ...probes])).code).toBe(0)
        // Both destroys: `docker rm` removes them in parallel, in either order.
        const done = (t: string) => ['ev', ...probes].every((name) => t.includes(`destroy ${name}\n`))
        const seenS = await waitForOutput(viaS, done)
        const seenD = await waitForOutput(viaD, done)
        expect(seenS).toBe(seenD)
        expect(seenS).toMatch(/create ev\n(attach ev\n)?start ev\ndie ev\n/)
      } finally {
        await stopChild(viaS.child)
        await stopChild(viaD.child)
      }
    })

    it('docker events --since/--until replays a past window and ends, like dockerd', async () => {
      const format = ['--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}']
      const t0 = (Date.now() / 1000).toFixed(3)
      const run = await docker(S, ['run', '--name', 'window', 'bb', 'true'])
      expect(run.code, run.stderr).toBe(0)
      expect((await docker(S, ['rm', 'window'])).code).toBe(0)
      // Unix timestamps: the engine's own window, replayed through Watch --since/--until.
      const t1 = (Date.now() / 1000 + 0.5).toFixed(3)
      const [pastS, pastD] = await both(['events', '--since', t0, '--until', t1, ...format])
      expect(pastS.code, pastS.stderr).toBe(0)
      expect(pastS.stdout).toBe(pastD.stdout)
      // dockerd itself sometimes reports attach, and detach after die, for an attached `run`.
      expect(pastS.stdout).toMatch(
        /^create window\n(attach window\n)?start window\ndie window\n(detach window\n)?destroy window\n$/,
      )
      // The CLI's relative forms (it sends them as whole-second timestamps): the last minute, until
      // now. Cross into the next second first, so "now" comes after the window's last event.
      await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)))
      const [recentS, recentD] = await both(['events', '--since', '1m', '--until', '0s', ...format])
      expect(recentS.code, recentS.stderr).toBe(0)
      expect(recentS.stdout).toContain(pastS.stdout)
      expect(recentS.stdout).toBe(recentD.stdout)
    })

    it('debug printed the messages passing through', () => {
      expect(swarmd.log()).toMatch(/Ls|Attach/)
    })
  },
)

describe.skipIf(reason !== undefined)(
  `docker CLI through swarmd dockerserver | debug | simulator${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    let swarmd: Swarmd
    let S: string
    let dockerd: TestDockerd

    beforeAll(async () => {
      // Only for its temp folder and clean-up; the simulator needs no engine.
      dockerd = await startDockerd({ image: false })
      const socket = join(dockerd.dir, 'sim.sock')
      S = `unix://${socket}`
      swarmd = await startSwarmd([`dockerserver ${S}`, 'debug', 'simulator --log-interval 100 web'], socket)
    })
    afterAll(async () => {
      await swarmd?.stop()
      await dockerd?.stop()
    })

    it('runs version, ps -a, run -d, inspect, logs, stop and events', async () => {
      const version = await docker(S, ['version', '--format', '{{.Server.APIVersion}}'])
      expect(version.code, version.stderr).toBe(0)
      expect(version.stdout.trim()).toBe('1.41')
      const ps = await docker(S, ['ps', '-a', '--format', '{{.Names}} {{.Image}} {{.State}}'])
      expect(ps.code, ps.stderr).toBe(0)
      expect(ps.stdout).toBe('web busybox:latest created\n')

      // The simulator keeps no past events: a window ending now is answered at once, empty.
      const window = await docker(S, ['events', '--since', '1m', '--until', '0s'])
      expect(window.code, window.stderr).toBe(0)
      expect(window.stdout).toBe('')

      const events = dockerBackground(S, ['events', '--format', '{{.Action}} {{.Actor.Attributes.name}}'])
      try {
        const probes = await warmUpEvents([events], async (name) => {
          const probe = await docker(S, ['create', '--name', name, 'busybox:latest', 'true'])
          expect(probe.code, probe.stderr).toBe(0)
        })
        expect((await docker(S, ['rm', ...probes])).code).toBe(0)
        const run = await docker(S, ['run', '-d', '--name', 'db', 'postgres:16', 'postgres'])
        expect(run.code, run.stderr).toBe(0)
        // The simulator creates but does not start on Spawn; docker run -d starts it.
        const inspect = await docker(S, [
          'inspect',
          '--format',
          '{{.Name}} {{.State.Status}} {{.Config.Image}}',
          'db',
        ])
        expect(inspect.stdout.trim()).toBe('/db running postgres:16')
        const logs = await docker(S, ['logs', 'db'])
        expect(logs.code, logs.stderr).toBe(0)
        expect(logs.stdout.length).toBeGreaterThan(0)
        const stop = await docker(S, ['stop', 'db'])
        expect(stop.code, stop.stderr).toBe(0)
        const state = await docker(S, [
          'ps',
          '-a',
          '--filter',
          'name=db',
          '--format',
          '{{.Names}} {{.State}}',
        ])
        expect(state.stdout).toBe('db exited\n')
        const seen = await waitForOutput(events, (t) => t.includes('die db'))
        expect(seen).toMatch(/start db\n/)
        // logs --tail and rm reach the simulator as Attach --logs --tail=N and Stop --rm (docs/VERBS.md).
        const tail = await docker(S, ['logs', '--tail', '1', 'db'])
        expect(tail.code, tail.stderr).toBe(0)
        expect(tail.stdout).toBe('db: stopped\n')
        const rm = await docker(S, ['rm', 'db'])
        expect(rm.code, rm.stderr).toBe(0)
        const left = await docker(S, ['ps', '-a', '--format', '{{.Names}}'])
        expect(left.stdout).toBe('web\n')
        await waitForOutput(events, (t) => t.includes('destroy db'))
        const missing = await docker(S, ['inspect', 'nosuch'])
        expect(missing.code).toBe(1)
        expect(missing.stderr).toContain('No such object: nosuch')
      } finally {
        await stopChild(events.child)
      }
    })
  },
)
