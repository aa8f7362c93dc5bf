/**
 * (5) Nesting cost: a message carrying a return channel against one without, over a tcp session:
 * one way (the receiver closes each return channel it gets), and as request/response (a new return
 * channel per request, the libchan pattern, against a ping-pong over two long-lived channels).
 */
import { pipe, type Sender } from '@libswarm/core'
import { median, paired, quick, type Row, type Small, sessionPair } from '../lib/common.ts'

const COUNT = quick ? 5_000 : 100_000
const TRIPS = quick ? 500 : 10_000

async function oneWay(nested: boolean): Promise<number> {
  const [client, server, close] = await sessionPair('tcp')
  type Msg = Small & { reply?: Sender<number> }
  const tx = client.open<Msg>()
  const rx = await server.accept<Msg>()
  const done = (async () => {
    for (let i = 0; i < COUNT; i++) {
      const { reply } = await rx.receive()
      if (reply) void reply.close()
    }
  })()
  const start = performance.now()
  for (let id = 0; id < COUNT; id++) {
    if (nested) {
      const [, reply] = pipe<number>()
      await tx.send({ id, name: 'message', ok: true, reply })
    } else await tx.send({ id, name: 'message', ok: true })
  }
  await done
  const rate = COUNT / ((performance.now() - start) / 1000)
  await close()
  return rate
}

async function roundTrip(nested: boolean): Promise<number> {
  const [client, server, close] = await sessionPair('tcp')
  const times: number[] = []
  if (nested) {
    type Req = Small & { reply: Sender<number> }
    const tx = client.open<Req>()
    const rx = await server.accept<Req>()
    void (async () => {
      for await (const { id, reply } of rx) {
        await reply.send(id)
        await reply.close()
      }
    })().catch(() => {})
    for (let id = 0; id < TRIPS; id++) {
      const t = performance.now()
      const [answers, reply] = pipe<number>()
      await tx.send({ id, name: 'request', ok: true, reply })
      await answers.receive()
      times.push((performance.now() - t) * 1000)
    }
  } else {
    const requests = client.open<Small>()
    const rx = await server.accept<Small>()
    const answers = server.open<number>()
    const back = await client.accept<number>()
    void (async () => {
      for await (const { id } of rx) await answers.send(id)
    })().catch(() => {})
    for (let id = 0; id < TRIPS; id++) {
      const t = performance.now()
      await requests.send({ id, name: 'request', ok: true })
      await back.receive()
      times.push((performance.now() - t) * 1000)
    }
  }
  await close()
  return median(times)
}

export async function run(): Promise<Row[]> {
  const one = await paired(
    () => oneWay(true),
    () => oneWay(false),
  )
  const rtt = await paired(
    () => roundTrip(true),
    () => roundTrip(false),
  )
  return [
    {
      section: 'nesting',
      name: 'tcp one way: message carrying a return Sender',
      value: one.a,
      unit: 'msg/s',
      baseline: 'the same message without one',
      baselineValue: one.b,
      ratio: one.ratio,
    },
    {
      section: 'nesting',
      name: 'tcp round trip: new return Sender per request',
      value: rtt.a,
      unit: 'µs',
      baseline: 'ping-pong on two long-lived channels',
      baselineValue: rtt.b,
      ratio: rtt.ratio,
    },
  ]
}
