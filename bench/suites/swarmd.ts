/**
 * (6) swarmd overhead: a verb (Ls, Get) through a 3-stage pipeline, built as swarmd builds it
 * (core's pipeline and a backend registry: pass -> pass -> simulator, where pass is a filter that
 * forwards everything), against the same verb sent to the simulator directly.
 */

import { backend as simulatorBackend } from '@libswarm/adapter-simulator'
import { type Backend, BackendRegistry, Client, filter, pipeline } from '@libswarm/core'
import { median, paired, quick, type Row } from '../lib/common.ts'

const CALLS = quick ? 300 : 5_000

const pass: Backend = {
  name: 'pass',
  summary: 'forwards every verb to the next stage',
  usage: 'pass',
  spawn: (_args, context) => filter(context.out, {}),
}

async function latency(client: Client, verb: 'ls' | 'get'): Promise<number> {
  for (let i = 0; i < 200; i++) await client[verb]()
  const times: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now()
    await client[verb]()
    times.push((performance.now() - t) * 1000)
  }
  return median(times)
}

export async function run(): Promise<Row[]> {
  const registry = new BackendRegistry([pass, simulatorBackend])
  await using chain = await pipeline(['pass', 'pass', 'simulator'], { registry })
  await chain.start()
  const simulator = chain.stage('simulator')
  const head = new Client(chain.head)
  await head.spawn(['busybox', 'sleep', '60'])
  const direct = new Client(simulator)
  const rows: Row[] = []
  for (const verb of ['ls', 'get'] as const) {
    const r = await paired(
      () => latency(head, verb),
      () => latency(direct, verb),
    )
    rows.push({
      section: 'swarmd',
      name: `${verb === 'ls' ? 'Ls' : 'Get'} through pass | pass | simulator`,
      value: r.a,
      unit: 'µs',
      baseline: 'the same verb to simulator directly',
      baselineValue: r.b,
      ratio: r.ratio,
    })
  }
  return rows
}
