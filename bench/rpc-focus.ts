/**
 * A focused run of the request/response cases that the pipelined target is about: libswarm against
 * raw ping-pong (unix, tcp, ws) and capnweb over ws, alternating peers per round, in one process.
 *
 *   npx tsx --expose-gc bench/rpc-focus.ts [--rounds 5] [--only unix,tcp,ws,services] [--pipelined-only]
 *
 * `services` compares Client.call('Get') against a Server over tcp (the libswarm row) with the bare
 * pattern (a message carrying a return Sender) and raw ping-pong.
 *
 * Prints per-round figures and the medians of per-round ratios. The full suite (bench/suites/rpc.ts)
 * stays the reference for docs/PERFORMANCE.md; this one is for before/after comparisons while working.
 */
import { median } from './lib/common.ts'
import {
  capnwebPeer,
  libswarmPeer,
  libswarmServicePeer,
  measureCalls,
  type Peer,
  rawPeer,
  rawWsPeer,
} from './lib/peers.ts'

const arg = (name: string) => {
  const at = process.argv.indexOf(name)
  return at > 0 ? process.argv[at + 1] : undefined
}
const ROUNDS = Number(arg('--rounds') ?? 5)
const only = (arg('--only') ?? 'unix,tcp,ws').split(',')
const pipelinedOnly = process.argv.includes('--pipelined-only')
const SEQUENTIAL = 3_000
const PIPELINED = 30_000
const IN_FLIGHT = 1_000
const WARMUP = 1_000

function measure(make: () => Promise<Peer>): Promise<{ median: number; calls: number }> {
  const counts = {
    warmup: WARMUP,
    sequential: pipelinedOnly ? 0 : SEQUENTIAL,
    pipelined: PIPELINED,
    inFlight: IN_FLIGHT,
  }
  return measureCalls(make, counts).then((f) => ({ median: f.median, calls: f.callsPerSec }))
}

const groups: Record<string, Record<string, () => Promise<Peer>>> = {
  unix: { libswarm: () => libswarmPeer('unix'), raw: () => rawPeer('unix') },
  tcp: { libswarm: () => libswarmPeer('tcp'), raw: () => rawPeer('tcp') },
  ws: { libswarm: () => libswarmPeer('ws'), raw: rawWsPeer, capnweb: capnwebPeer },
  // The services layer over the same pattern: Client.call('Get') against a Server, over tcp.
  services: {
    libswarm: () => libswarmServicePeer('tcp'),
    bare: () => libswarmPeer('tcp'),
    raw: () => rawPeer('tcp'),
  },
}

for (const group of only) {
  const peers = groups[group]!
  const names = Object.keys(peers)
  const results: Record<string, { median: number; calls: number }[]> = Object.fromEntries(
    names.map((n) => [n, []]),
  )
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!
      results[name]!.push(await measure(peers[name]!))
    }
  }
  const ours = results.libswarm!
  const line = [`${group}: libswarm ${Math.round(median(ours.map((r) => r.calls)))} calls/s`]
  for (const name of names.filter((n) => n !== 'libswarm')) {
    const theirs = results[name]!
    const pipelined = ours.map((r, i) => r.calls / theirs[i]!.calls)
    const latency = ours.map((r, i) => r.median / theirs[i]!.median)
    line.push(
      `vs ${name} (${Math.round(median(theirs.map((r) => r.calls)))}): pipelined ${median(pipelined).toFixed(2)}x [${pipelined.map((x) => x.toFixed(2)).join(' ')}]` +
        (pipelinedOnly
          ? ''
          : `, rt median ${median(latency).toFixed(2)}x [${latency.map((x) => x.toFixed(2)).join(' ')}]`),
    )
  }
  console.log(line.join('\n  '))
}
process.exit(0)
