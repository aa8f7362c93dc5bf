/**
 * Services: a service is a `Sender<Message>` that understands the 13 verbs (`docs/VERBS.md`).
 * {@link Server} routes verbs to typed handlers, {@link Client} makes typed calls, and the building
 * blocks compose them: {@link handler}, {@link notImplemented}, {@link Task}, {@link Tree},
 * {@link filter}, {@link pipeline}, {@link BackendRegistry} with {@link parseSpec}, {@link WatchHub}.
 *
 * @example
 * import { Client, Server, Tree } from '@libswarm/core'
 *
 * const web = new Server({ onGet: () => ({ state: 'running' }) })
 * const tree = new Tree({ web })
 * const client = new Client(tree)
 * const names = await client.ls() // ['web']
 * const { instance } = await client.attach('web')
 * console.log(await instance.get()) // { state: 'running' }
 */
export * from './args.ts'
export * from './client.ts'
export * from './filter.ts'
export * from './handler.ts'
export * from './pipeline.ts'
export * from './reference.ts'
export * from './registry.ts'
export * from './reply.ts'
export * from './server.ts'
export * from './task.ts'
export * from './tree.ts'
export * from './types.ts'
export * from './watch.ts'
