import { type BackendContext, Client, notImplemented } from '@libswarm/core'
import { backend } from '../src/index.ts'

/** A spawn context for tests: logs collected in `logs`, shut down by `abort()`. */
export function testContext(): BackendContext & { logs: string[]; abort(): void } {
  const controller = new AbortController()
  const logs: string[] = []
  return {
    out: notImplemented,
    signal: controller.signal,
    log: (line) => logs.push(line),
    spawn: () => Promise.reject(new Error('not used in these tests')),
    logs,
    abort: () => controller.abort(),
  }
}

/** Spawns the etcd backend and wraps it in a Client. */
export async function etcdClient(args: string[]) {
  const context = testContext()
  const service = await backend.spawn(args, context)
  return { client: new Client(service), service, context }
}
