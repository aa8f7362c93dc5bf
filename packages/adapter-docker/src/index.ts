/**
 * @libswarm/adapter-docker: a Docker Engine as a libswarm service (backend `dockerclient [URL]`),
 * on dockerode.
 *
 * The engine answers `Ls` (container names), `Attach NAME` (one container; with `--logs` or
 * `--follow` the reply then carries its output as `Log` lines), `Spawn` (create, and start with
 * `--start`), `Get` (engine version and info) and `Watch` (the engine's container events,
 * reconnecting if dockerd restarts). A container answers `Get` (inspect), `Start`, `Stop`
 * (`--time=S`, `--rm`, `--force`), `Set` (`name=NEW` renames, a JSON body updates), `Watch` (its own
 * events) and `Connect` (its stdio, or `Connect exec CMD...`, as a byte stream). Engine failures
 * become NotFoundError, ConflictError, InvalidArgumentError, UnauthorizedError or UnavailableError.
 *
 * @example
 * import { Client } from '@libswarm/core'
 * import { dockerClient } from '@libswarm/adapter-docker'
 *
 * const docker = new Client(dockerClient({ url: 'unix:///var/run/docker.sock' }))
 * console.log(await docker.ls()) // ['web', ...]
 * const box = await docker.spawn(['--start', 'busybox', 'sh', '-c', 'echo hello'])
 * console.log((await box.get<{ State: { Status: string } }>()).State.Status)
 * await box.stop(['--rm', '--force'])
 *
 * @packageDocumentation
 */
import { type Backend, InvalidArgumentError } from '@libswarm/core'
import { parseEngineUrl } from './internal/engine.ts'
import { dockerClient } from './internal/service.ts'

export { type DockerClientOptions, dockerClient } from './internal/service.ts'

/** The `dockerclient [URL]` backend: a Docker Engine (DOCKER_HOST, else the standard socket). */
export const backend: Backend = {
  name: 'dockerclient',
  summary: 'a Docker Engine as a service: containers as children (on dockerode)',
  usage:
    'dockerclient [URL]   (unix:///path/docker.sock or tcp://host:port; default $DOCKER_HOST, else unix:///var/run/docker.sock)',
  capabilities: {
    verbs: ['Ls', 'Attach', 'Spawn', 'Get', 'Watch', 'Start', 'Stop', 'Set', 'Connect'],
    watch: true,
    connect: true,
    spawn: true,
    startStop: true,
  },
  spawn(args, context) {
    if (args.length > 1) {
      throw new InvalidArgumentError(
        `[adapter-docker] too many arguments ${JSON.stringify(args)}: usage: ${backend.usage}`,
      )
    }
    const engine = parseEngineUrl(args[0])
    return dockerClient({ signal: context.signal, log: (line) => context.log(line) }, engine)
  },
}
