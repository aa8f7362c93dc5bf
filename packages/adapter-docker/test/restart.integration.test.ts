/**
 * dockerd going away and coming back under an open Watch (issue 9, "Failures"): the adapter
 * reconnects, says so in a Log line, and delivers every container event once: what happened after
 * the restart, including what happened before it reconnected (it asks the engine for the events since
 * the last one it delivered).
 */
import { Client, type WatchEvent } from '@libswarm/core'
import Docker from 'dockerode'
import { describe, expect, it } from 'vitest'
import { dockerClient } from '../src/index.ts'
import { dockerdAvailable, startDockerd } from '../src/testing.ts'

const available = dockerdAvailable()
if (!available.ok && process.env.CI)
  throw new Error(`the dockerd restart test needs a real dockerd in CI: ${available.reason}`)

/** Values pushed over time, and a bounded wait for one that matches. */
class Seen<T> {
  readonly values: T[] = []
  readonly #waiters = new Set<() => void>()
  push(value: T): void {
    this.values.push(value)
    for (const wake of this.#waiters) wake()
  }
  async until(match: (value: T) => boolean, what: string, ms = 30_000): Promise<T> {
    const deadline = AbortSignal.timeout(ms)
    for (;;) {
      const found = this.values.find(match)
      if (found !== undefined) return found
      if (deadline.aborted) throw new Error(`waited ${ms} ms for ${what}; saw ${JSON.stringify(this.values)}`)
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake)
          deadline.removeEventListener('abort', wake)
          resolve()
        }
        this.#waiters.add(wake)
        deadline.addEventListener('abort', wake, { once: true })
      })
    }
  }
}

describe.skipIf(!available.ok)(
  `dockerclient Watch across a dockerd restart${available.ok ? '' : ` (skipped: ${available.reason})`}`,
  () => {
    it('reconnects, reports it, and delivers every event after the restart once, gap included', async () => {
      await using dockerd = await startDockerd()
      const docker = new Docker({ socketPath: dockerd.socket })
      const create = (name: string) =>
        docker.createContainer({ name, Image: dockerd.image, Cmd: ['true'] } as never)
      const logs = new Seen<string>()
      const controller = new AbortController()
      // A long reconnect delay so a container can be created after dockerd is back but before the
      // adapter reconnects: that event is only delivered if the adapter asks for what it missed.
      const service = dockerClient({
        url: dockerd.host,
        log: (line) => logs.push(line),
        reconnectDelayMs: 4000,
        signal: controller.signal,
      })
      const client = new Client(service, { timeout: 10_000 })
      const events = await client.watch([], { signal: controller.signal })
      const seen = new Seen<WatchEvent>()
      const collecting = (async () => {
        for await (const event of events) seen.push(event)
      })().catch(() => {})
      const created = (name: string) => (e: WatchEvent) => e.type === 'create' && e.name === name
      try {
        await create('before')
        await seen.until(created('before'), 'the create of "before"')

        await dockerd.stopDaemon()
        // The adapter noticed: its stream ended and a reconnect attempt failed.
        await logs.until((line) => /retrying/.test(line), 'a failed reconnect attempt')
        await dockerd.startDaemon()
        await create('gap')
        const reconnectedBeforeGap = logs.values.some((line) => /reconnected/.test(line))

        const reconnected = await logs.until((line) => /reconnected/.test(line), 'the reconnect log line')
        expect(reconnected).toMatch(
          /event stream reconnected; asked the engine for the events since \d+\.\d{9}/,
        )
        await seen.until(created('gap'), 'the create of "gap", made before the adapter reconnected')
        expect(reconnectedBeforeGap, 'the gap create must happen before the reconnect').toBe(false)

        await create('after')
        await seen.until(created('after'), 'the create of "after"')

        const creates = seen.values.filter((e) => e.type === 'create').map((e) => e.name)
        expect(creates).toEqual(['before', 'gap', 'after'])
        // Nothing delivered twice.
        const keys = seen.values.map(
          (e) => `${e.id} ${e.action} ${(e.docker as { timeNano?: number }).timeNano}`,
        )
        expect(new Set(keys).size).toBe(keys.length)
        // The data root survived: the container from before the restart is still there.
        expect(await client.ls()).toEqual(expect.arrayContaining(['before', 'gap', 'after']))
      } finally {
        events.cancel()
        controller.abort()
        await collecting
      }
    }, 120_000)
  },
)
