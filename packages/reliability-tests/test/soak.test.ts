import { readdirSync } from 'node:fs'
import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { connect, listen, type Receiver, type Session, type Transport } from '@libswarm/core'
import { tcp } from '@libswarm/transport-tcp'
import { websocket } from '@libswarm/transport-websocket'
import { describe, expect, it } from 'vitest'

/** Seconds of soak per transport: SOAK_SECONDS, else 20 (two transports: 40 s in CI; longer on demand). */
const SECONDS = Number(process.env.SOAK_SECONDS) > 0 ? Number(process.env.SOAK_SECONDS) : 20
const WORKERS = 8

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Message {
  key: string
  seq: number
  body?: Readable
  size?: number
}

function counts() {
  const res: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) res[kind] = (res[kind] ?? 0) + 1
  return { fds: readdirSync('/proc/self/fd').length, res }
}

async function settle(base: ReturnType<typeof counts>, ms = 8000) {
  const until = Date.now() + ms
  for (;;) {
    gc()
    const now = counts()
    const ok = now.fds <= base.fds && Object.entries(now.res).every(([k, n]) => n <= (base.res[k] ?? 0))
    if (ok || Date.now() > until) return now
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.each([
  { name: 'tcp', transport: (): Transport => tcp(), url: 'tcp://127.0.0.1:0' },
  { name: 'websocket', transport: (): Transport => websocket(), url: 'ws://127.0.0.1:0/soak' },
])('soak over $name', ({ name, transport, url }) => {
  it(
    `${SECONDS} s of sessions opening and closing channels and byte streams with random aborts: nothing sent before a graceful close is lost, duplicated or reordered; heap and handles return to baseline`,
    async () => {
      // Warm-up round so modules and first-use caches are not counted as growth.
      {
        const l = await listen(url, { transports: [transport()] })
        const c = await connect(l.url, { transports: [transport()] })
        const s = await l.accept()
        await c.close()
        await s.closed
        await l.close()
      }
      const base = await settle(counts(), 500)
      gc()
      const heapBase = process.memoryUsage().heapUsed

      const totals = { sessions: 0, channels: 0, messages: 0, bytes: 0, aborts: 0, sessionAborts: 0 }
      const received = new Map<string, number[]>()
      /** Per channel key: the bytes each of its streams delivered, as [seq, bytes]. */
      const streamed = new Map<string, [number, number][]>()
      const expected = new Map<string, { messages: number; bytes: number }>()
      const serverSessions: Session[] = []
      const problems: string[] = []
      /** Channels the server is still reading (a reader may finish after its session ended). */
      let reading = 0

      const listener = await listen(url, { transports: [transport()], limits: { idleTimeout: 0 } })
      const serving = (async () => {
        for await (const session of listener) {
          serverSessions.push(session)
          void (async () => {
            for await (const rx of session as AsyncIterable<Receiver<Message>>) {
              reading++
              void (async () => {
                for await (const message of rx) {
                  const seqs = received.get(message.key) ?? []
                  seqs.push(message.seq)
                  received.set(message.key, seqs)
                  if (message.body) {
                    let got = 0
                    try {
                      for await (const chunk of message.body) got += (chunk as Buffer).length
                    } catch {}
                    const streams = streamed.get(message.key) ?? []
                    streams.push([message.seq, got])
                    streamed.set(message.key, streams)
                  }
                }
              })()
                .catch(() => {})
                .finally(() => reading--)
            }
          })().catch(() => {})
        }
      })()

      const deadline = Date.now() + SECONDS * 1000
      const worker = async (w: number) => {
        const rand = random(w * 7919 + 1)
        let round = 0
        while (Date.now() < deadline) {
          round++
          const session = await connect(listener.url, {
            transports: [transport()],
            limits: { idleTimeout: 0 },
          })
          totals.sessions++
          const abortSession = rand() < 0.1
          const channels = 1 + Math.floor(rand() * 6)
          const tasks: Promise<void>[] = []
          for (let c = 0; c < channels; c++) {
            const key = `${name}/${w}/${round}/${c}`
            const count = 1 + Math.floor(rand() * 60)
            const abortAt = rand() < 0.15 ? Math.floor(rand() * count) : -1
            const withStream = rand() < 0.3
            totals.channels++
            tasks.push(
              (async () => {
                const tx = session.open<Message>()
                let bytes = 0
                for (let seq = 0; seq < count; seq++) {
                  if (seq === abortAt) {
                    tx.abort('soak: random abort')
                    totals.aborts++
                    return
                  }
                  if (withStream && seq % 10 === 0) {
                    const size = Math.floor(rand() * 200_000)
                    let left = size
                    const body = new Readable({
                      read() {
                        const n = Math.min(left, 16_384)
                        left -= n
                        this.push(n > 0 ? Buffer.alloc(n, seq) : null)
                      },
                    })
                    await tx.send({ key, seq, body, size })
                    bytes += size
                  } else await tx.send({ key, seq })
                  totals.messages++
                }
                await tx.close()
                if (!abortSession) expected.set(key, { messages: count, bytes })
              })().catch((error) => {
                if (!abortSession) problems.push(`${key}: ${String(error)}`)
              }),
            )
          }
          if (abortSession) {
            await new Promise((r) => setTimeout(r, rand() * 5))
            session.abort('soak: random session abort')
            totals.sessionAborts++
            await Promise.all(tasks)
          } else {
            await Promise.all(tasks)
            await session.close()
          }
        }
      }
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
      // Every server session ends (the clients closed or aborted theirs); byte streams finish.
      const allClosed = Promise.all(serverSessions.map((s) => s.closed))
      const waited = await Promise.race([
        allClosed.then(() => 'closed'),
        new Promise((r) => setTimeout(() => r('timeout'), 15_000)),
      ])
      expect(waited).toBe('closed')
      const readersDone = Date.now() + 15_000
      while (reading > 0 && Date.now() < readersDone) await new Promise((r) => setTimeout(r, 50))
      expect(reading, 'channels still being read 15 s after the end').toBe(0)
      await listener.close()
      await serving

      for (const [key, { messages, bytes }] of expected) {
        const seqs = received.get(key) ?? []
        if (seqs.length !== messages || seqs.some((seq, i) => seq !== i)) {
          problems.push(
            `${key}: expected 0..${messages - 1} once each in order, got ${seqs.length} [${seqs.slice(0, 10).join(',')}...]`,
          )
        }
        const streams = streamed.get(key) ?? []
        let got = 0
        for (const [, n] of streams) got += n
        if (got !== bytes)
          problems.push(
            `${key}: expected ${bytes} streamed bytes, got ${got} (${streams
              .map(([seq, n]) => `${seq}:${n}`)
              .join(' ')}; seqs ${(received.get(key) ?? []).length})`,
          )
        totals.bytes += got
      }
      console.log(
        `[soak] ${name}: ${SECONDS} s, ${totals.sessions} sessions (${totals.sessionAborts} aborted), ${totals.channels} channels (${totals.aborts} aborted), ${totals.messages} messages sent, ${expected.size} channels closed gracefully checked exactly-once in order, ${totals.bytes} stream bytes verified`,
      )
      expect(problems.slice(0, 20)).toEqual([])
      expect(expected.size).toBeGreaterThan(0)

      received.clear()
      streamed.clear()
      serverSessions.length = 0
      const after = await settle(base)
      gc()
      const heapGrowth = process.memoryUsage().heapUsed - heapBase
      console.log(
        `[soak] ${name}: heap ${heapGrowth >= 0 ? '+' : ''}${Math.round(heapGrowth / 1024)} KiB after, fds ${base.fds} -> ${after.fds}`,
      )
      expect(after.fds, 'open file descriptors').toBeLessThanOrEqual(base.fds)
      for (const [kind, n] of Object.entries(after.res))
        expect(n, `active ${kind}`).toBeLessThanOrEqual(base.res[kind] ?? 0)
      expect(heapGrowth).toBeLessThan(32 * 1024 * 1024)
    },
    // Generous: the load loop stops on time, but on a loaded 2-core machine teardown can take minutes.
    SECONDS * 1000 + 240_000,
  )
})
