/**
 * @libswarm/adapter-__NAME__: TODO: one line that says what it is.
 *
 * @example
 * import { Client, notImplemented } from '@libswarm/core'
 * import { backend } from '@libswarm/adapter-__NAME__'
 *
 * const controller = new AbortController()
 * const service = await backend.spawn(['first'], {
 *   out: notImplemented,
 *   signal: controller.signal,
 *   spawn: () => Promise.reject(new Error('not used')),
 *   log: console.error,
 * })
 * const client = new Client(service)
 * const second = await client.spawn(['second'])
 * await second.start()
 * console.log(await client.ls()) // ['first', 'second']
 * console.log(await second.get()) // { name: 'second', state: 'running', created: '...' }
 * controller.abort()
 *
 * @packageDocumentation
 */
export { backend } from './internal/backend.ts'
