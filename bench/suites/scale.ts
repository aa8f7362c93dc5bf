/**
 * (4) Scale: 10 000 concurrent channels on one session (memory per open channel, time to open and
 * close them all), and 1 000 sessions on one listener (time to connect, memory per session, time
 * to close). Both ends live in this process, so memory figures count both ends of each channel.
 */
import type { Receiver, Sender, Session } from '@libswarm/core'
import {
  gc,
  heldBytes,
  median,
  quick,
  ROUNDS,
  type Row,
  sessionListener,
  sessionPair,
} from '../lib/common.ts'

const CHANNELS = quick ? 1_000 : 10_000
const SESSIONS = quick ? 100 : 1_000

async function channels(): Promise<{ perChannel: number; openMs: number; closeMs: number }> {
  const [client, server, close] = await sessionPair('tcp')
  try {
    await gc()
    const before = heldBytes()
    const t0 = performance.now()
    const senders: Sender<number>[] = []
    for (let i = 0; i < CHANNELS; i++) senders.push(client.open<number>())
    // A channel reaches the peer with its first message.
    const sent = Promise.all(senders.map((tx, i) => tx.send(i)))
    const receivers: Receiver<number>[] = []
    for (let i = 0; i < CHANNELS; i++) {
      const rx = await server.accept<number>()
      await rx.receive()
      receivers.push(rx)
    }
    await sent
    const openMs = performance.now() - t0
    await gc()
    const perChannel = (heldBytes() - before) / CHANNELS
    const t1 = performance.now()
    const ended = Promise.all(
      receivers.map((rx) =>
        rx.receive().then(
          () => {},
          () => {},
        ),
      ),
    )
    await Promise.all(senders.map((tx) => tx.close()))
    await ended
    const closeMs = performance.now() - t1
    return { perChannel, openMs, closeMs }
  } finally {
    await close()
  }
}

async function sessions(): Promise<{ perSession: number; connectMs: number; closeMs: number }> {
  const { listener, dial } = await sessionListener('tcp')
  try {
    await gc()
    const before = heldBytes()
    const t0 = performance.now()
    const accepted: Promise<Session[]> = (async () => {
      const all: Session[] = []
      for (let i = 0; i < SESSIONS; i++) {
        const session = await listener.accept()
        const rx = await session.accept()
        await rx.receive()
        all.push(session)
      }
      return all
    })()
    const clients: Session[] = []
    // Dial in waves of 100 so the kernel's accept backlog never overflows.
    for (let i = 0; i < SESSIONS; i += 100) {
      const wave = await Promise.all(Array.from({ length: Math.min(100, SESSIONS - i) }, () => dial()))
      for (const session of wave) await session.open<string>().send('hello')
      clients.push(...wave)
    }
    const servers = await accepted
    const connectMs = performance.now() - t0
    await gc()
    const perSession = (heldBytes() - before) / SESSIONS
    const t1 = performance.now()
    await Promise.all(clients.map((session) => session.close()))
    await Promise.all(servers.map((session) => session.closed))
    const closeMs = performance.now() - t1
    return { perSession, connectMs, closeMs }
  } finally {
    await listener.close()
  }
}

export async function run(): Promise<Row[]> {
  const c: Awaited<ReturnType<typeof channels>>[] = []
  const s: Awaited<ReturnType<typeof sessions>>[] = []
  const n = Math.min(ROUNDS, 3)
  for (let i = 0; i < n; i++) c.push(await channels())
  for (let i = 0; i < n; i++) s.push(await sessions())
  const m = <T>(list: T[], key: keyof T) => median(list.map((x) => x[key] as number))
  const perChannel = m(c, 'perChannel')
  return [
    {
      section: 'scale',
      name: `${CHANNELS} channels on one tcp session: memory per open channel`,
      value: perChannel,
      unit: 'bytes',
      target: '<= 2048',
      met: perChannel <= 2048,
      note: 'both ends (sender and receiver) in this process',
    },
    {
      section: 'scale',
      name: `${CHANNELS} channels: open all (first message each)`,
      value: m(c, 'openMs'),
      unit: 'ms',
    },
    {
      section: 'scale',
      name: `${CHANNELS} channels: close all (receivers see the end)`,
      value: m(c, 'closeMs'),
      unit: 'ms',
    },
    {
      section: 'scale',
      name: `${SESSIONS} tcp sessions on one listener: connect all`,
      value: m(s, 'connectMs'),
      unit: 'ms',
    },
    {
      section: 'scale',
      name: `${SESSIONS} sessions: memory per session`,
      value: m(s, 'perSession'),
      unit: 'bytes',
      note: 'both ends, one channel each, sockets included',
    },
    {
      section: 'scale',
      name: `${SESSIONS} sessions: close all gracefully`,
      value: m(s, 'closeMs'),
      unit: 'ms',
    },
  ]
}
