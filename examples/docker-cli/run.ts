/**
 * The real docker CLI in front of the simulator: starts
 *
 *   swarmd 'dockerserver unix://SOCKET' simulator
 *
 * (a Docker Engine API on a unix socket, answered by an in-memory container host), then runs a few
 * ordinary docker commands against it and stops swarmd. Needs the docker CLI (not the engine).
 *
 *   npx tsx docker-cli/run.ts
 *
 * By hand, in two terminals:
 *   npx swarmd 'dockerserver unix:///tmp/sim.sock' simulator
 *   DOCKER_HOST=unix:///tmp/sim.sock docker run -d --name web busybox && docker ps
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const docker = process.env.DOCKER_CLI ?? 'docker'
const dir = mkdtempSync(join(tmpdir(), 'libswarm-docker-cli-'))
const socket = join(dir, 'sim.sock')
const host = `unix://${socket}`

// swarmd finds the installed @libswarm/adapter-* packages from its working folder.
const examples = fileURLToPath(new URL('..', import.meta.url))
const swarmdBin = join(examples, 'node_modules', '.bin', 'swarmd')
const swarmd = spawn(swarmdBin, [`dockerserver ${host}`, 'simulator'], {
  cwd: examples,
  stdio: ['ignore', 'inherit', 'pipe'],
})
let log = ''
swarmd.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')))

/** Runs one docker command against swarmd and returns its output. */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      docker,
      args,
      // A config folder of our own, so the example leaves nothing in ~/.docker.
      { env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dir }, timeout: 20_000, encoding: 'utf8' },
      (error, stdout, stderr) =>
        error ? reject(new Error(`docker ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    )
  })
}

try {
  const deadline = Date.now() + 30_000
  while (!existsSync(socket)) {
    if (swarmd.exitCode !== null) throw new Error(`swarmd exited (${swarmd.exitCode}):\n${log}`)
    if (Date.now() > deadline) throw new Error(`swarmd did not listen on ${host} within 30 s:\n${log}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  for (const args of [
    ['version', '--format', 'server API {{.Server.APIVersion}}'],
    ['run', '-d', '--name', 'web', 'nginx:alpine'],
    ['run', '-d', '--name', 'db', 'postgres:16', 'postgres'],
    ['ps', '--format', '{{.Names}}\t{{.Image}}\t{{.State}}'],
    ['stop', 'db'],
    ['ps', '-a', '--format', '{{.Names}}\t{{.State}}'],
    ['inspect', '--format', '{{.Name}} {{.State.Status}} {{.Config.Image}}', 'web'],
  ]) {
    console.log(`$ docker ${args.join(' ')}`)
    process.stdout.write(await run(args))
  }
} finally {
  swarmd.kill('SIGTERM')
  await new Promise((resolve) =>
    swarmd.exitCode !== null ? resolve(undefined) : swarmd.once('exit', resolve),
  )
  rmSync(dir, { recursive: true, force: true })
}
