/**
 * (2) Request/response: sequential round trips (median and p99 of each call's time) and pipelined
 * calls per second with 1 000 in flight, over unix, tcp and websocket. libswarm sends a message
 * carrying a return Sender; its peers in the same run are raw ping-pong (net, ws), capnweb over ws,
 * @grpc/grpc-js (unary and a bidi stream) and nats request/reply through a real nats-server.
 * Every round runs every peer of a transport once, in a rotating order.
 */
import { check, median, quick, ROUNDS, type Row } from '../lib/common.ts'
import {
  type CallFigures,
  capnwebPeer,
  grpcPeer,
  libswarmPeer,
  measureCalls,
  natsPeer,
  natsUnavailable,
  type Peer,
  rawPeer,
  rawWsPeer,
  startNatsServer,
} from '../lib/peers.ts'

const SEQUENTIAL = quick ? 300 : 5_000
const PIPELINED = quick ? 2_000 : 30_000
const IN_FLIGHT = 1_000
const WARMUP = quick ? 100 : 1_000

type Figures = CallFigures

const measure = (make: () => Promise<Peer>): Promise<Figures> =>
  measureCalls(make, { warmup: WARMUP, sequential: SEQUENTIAL, pipelined: PIPELINED, inFlight: IN_FLIGHT })

type Peers = Record<string, () => Promise<Peer>>

/** Each round measures every peer once (rotating who goes first); returns per-round figures. */
async function compare(peers: Peers): Promise<Record<string, Figures[]>> {
  const names = Object.keys(peers)
  const results: Record<string, Figures[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!
      results[name]!.push(await measure(peers[name]!))
    }
  }
  return results
}

function rowsFor(
  transport: string,
  results: Record<string, Figures[]>,
  targets: Record<string, { latency?: string; p99?: string; calls?: string }>,
): Row[] {
  const ours = results.libswarm!
  const rows: Row[] = []
  const med = (figures: Figures[], key: keyof Figures) => median(figures.map((f) => f[key]))
  const ratio = (theirs: Figures[], key: keyof Figures) =>
    median(ours.map((f, i) => f[key] / theirs[i]![key]))
  const row = (name: string, key: keyof Figures, unit: string, vs?: string, target?: string): Row => {
    const base: Row = { section: 'rpc', name: `${transport}: ${name}`, value: med(ours, key), unit }
    if (!vs) return base
    const r = ratio(results[vs]!, key)
    return {
      ...base,
      baseline: vs,
      baselineValue: med(results[vs]!, key),
      ratio: r,
      ...(target ? { target, met: check(r, target) } : {}),
    }
  }
  const others = Object.keys(results).filter((n) => n !== 'libswarm')
  for (const vs of others) {
    const t = targets[vs] ?? {}
    rows.push(row('round trip median', 'median', 'µs', vs, t.latency))
    rows.push(row('round trip p99', 'p99', 'µs', vs, t.p99))
    rows.push(row('pipelined (1 000 in flight)', 'callsPerSec', 'calls/s', vs, t.calls))
  }
  return rows
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = []
  const faster = { latency: '<= 1', calls: '>= 1' }

  rows.push(
    ...rowsFor(
      'unix',
      await compare({ libswarm: () => libswarmPeer('unix'), 'raw net ping-pong': () => rawPeer('unix') }),
      { 'raw net ping-pong': { latency: '<= 1.5' } },
    ),
  )

  const unavailable = natsUnavailable()
  const natsServer = unavailable ? undefined : await startNatsServer()
  try {
    const peers: Peers = {
      libswarm: () => libswarmPeer('tcp'),
      'raw net ping-pong': () => rawPeer('tcp'),
      'grpc-js unary': () => grpcPeer('unary'),
      'grpc-js bidi stream': () => grpcPeer('bidi'),
    }
    if (natsServer) peers['nats request/reply'] = () => natsPeer(natsServer.port)
    rows.push(
      ...rowsFor('tcp', await compare(peers), {
        'raw net ping-pong': { latency: '<= 1.5' },
        'grpc-js unary': faster,
        'grpc-js bidi stream': faster,
        'nats request/reply': faster,
      }),
    )
    if (unavailable) {
      rows.push({
        section: 'rpc',
        name: 'tcp: vs nats request/reply',
        value: null,
        unit: '',
        note: `not available: ${unavailable}`,
      })
    }
  } finally {
    await natsServer?.stop()
  }

  rows.push(
    ...rowsFor(
      'websocket',
      await compare({
        libswarm: () => libswarmPeer('ws'),
        'raw ws ping-pong': rawWsPeer,
        'capnweb over ws': capnwebPeer,
      }),
      { 'capnweb over ws': { latency: '<= 0.7', calls: '>= 4' } },
    ),
  )
  return rows
}
