/**
 * @libswarm/adapter-simulator: a fake container host kept in memory, the `swarmd` demo target.
 *
 * Spawn creates named containers (id, name, image, command, created time, state, status, exit
 * code: what `docker ps` and `docker inspect` show); Start and Stop change their state; Ls, Attach,
 * Get and Watch report them; a running container writes a log line every `logInterval` ms; Connect
 * gives a byte stream that echoes what you write.
 *
 * @example
 * import { Client } from '@libswarm/core'
 * import { simulator } from '@libswarm/adapter-simulator'
 *
 * const { service } = simulator({ containers: ['web'] })
 * const host = new Client(service)
 * const db = await host.spawn('--name', 'db', 'postgres:16', 'postgres')
 * await db.start()
 * console.log(await host.ls()) // ['db', 'web']
 * console.log((await db.get()).state) // 'running'
 *
 * @packageDocumentation
 */
export {
  type Container,
  type ContainerInfo,
  type ContainerState,
  DEFAULT_COMMAND,
  DEFAULT_IMAGE,
  type HostOptions,
  SimulatorHost,
} from './internal/host.ts'
export {
  backend,
  parseSimulatorArgs,
  type Simulator,
  type SimulatorOptions,
  simulator,
} from './internal/service.ts'
