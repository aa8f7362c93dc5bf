import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  LibswarmError,
  LimitExceededError,
  type ListenSessionsOptions,
  listen,
  type Session,
  type SessionLimits,
  type Transport,
} from '@libswarm/core'
import { hasOpenssl, makeCerts } from '@libswarm/transport-compliance/certs'
import { http2 } from '@libswarm/transport-http2'
import { tcp } from '@libswarm/transport-tcp'
import { tls } from '@libswarm/transport-tls'
import { unix } from '@libswarm/transport-unix'
import { websocket } from '@libswarm/transport-websocket'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const peerScript = fileURLToPath(new URL('./fixtures/peer.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'ls-kill-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

if (!hasOpenssl() && process.env.CI)
  throw new Error('[reliability-tests] the openssl CLI is needed for the tls case')
const certs = hasOpenssl() ? makeCerts() : undefined
const certsFile = join(dir, 'certs.json')
if (certs) writeFileSync(certsFile, JSON.stringify({ ca: certs.ca }))

interface Scenario {
  name: string
  transport: () => Transport
  url: () => string
}
const scenarios: Scenario[] = [
  { name: 'tcp', transport: () => tcp(), url: () => 'tcp://127.0.0.1:0' },
  {
    name: 'unix',
    transport: () => unix(),
    url: () => `unix://${join(dir, `s-${Math.random().toString(36).slice(2)}.sock`)}`,
  },
  ...(certs
    ? [{ name: 'tls', transport: () => tls({ ...certs.server }), url: () => 'tls://127.0.0.1:0' }]
    : []),
  { name: 'http2', transport: () => http2(), url: () => 'http2://127.0.0.1:0/swarm' },
  { name: 'websocket', transport: () => websocket(), url: () => 'ws://127.0.0.1:0/swarm' },
]

const faults = { killed: 0, frozen: 0, pendingRejected: 0 }
afterAll(() => {
  console.log(
    `[reliability] faults survived: ${faults.killed} peers killed mid-transfer, ${faults.frozen} frozen (half-open); ${faults.pendingRejected} pending calls rejected with typed errors`,
  )
})

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

function resources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/** Polls until handles and descriptors are back to `base` (or `ms` passes); returns the last reading. */
async function settledTo(base: { fds: number; res: Record<string, number> }, ms = 5000) {
  const until = Date.now() + ms
  for (;;) {
    const now = { fds: openFds(), res: resources() }
    const same =
      now.fds <= base.fds && Object.entries(now.res).every(([kind, n]) => n <= (base.res[kind] ?? 0))
    if (same || Date.now() > until) return now
    await new Promise((r) => setTimeout(r, 50))
  }
}

function startPeer(name: string, url: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', peerScript, name, url], {
    cwd: root,
    env: { ...process.env, CERTS: certsFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
}

function ready(child: ChildProcess, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`the peer did not get ready within ${ms} ms`)), ms)
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString()
      if (text.includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the peer exited (${code ?? signal}) before it was ready`))
    })
  })
}

function gone(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('close', () => resolve()))
}

/** Settles to the error (or 'resolved') of a pending call, and the time it took from `since`. */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  )
}

async function withPeer(
  scenario: Scenario,
  limits: SessionLimits,
  body: (session: Session, child: ChildProcess) => Promise<void>,
) {
  const options: ListenSessionsOptions = { transports: [scenario.transport()], limits }
  const listener = await listen(scenario.url(), options)
  const child = startPeer(scenario.name, listener.url.href)
  try {
    const session = await listener.accept({ signal: AbortSignal.timeout(15_000) })
    await ready(child)
    await body(session, child)
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await gone(child)
    await listener.close()
  }
}

describe.each(scenarios)('a peer over $name', (scenario) => {
  it('killed with SIGKILL mid-transfer: every pending call rejects within a second with a typed error; nothing leaks', async () => {
    // Warm up (module loading, the first listener) so the baseline is steady.
    await withPeer(scenario, { idleTimeout: 0 }, async () => {})
    await settledTo({ fds: 0, res: {} }, 300)
    const base = { fds: openFds(), res: resources() }

    await withPeer(scenario, { idleTimeout: 0 }, async (session, child) => {
      const rx = await session.accept<{ n?: number; body?: Readable }>({ signal: AbortSignal.timeout(5000) })
      let body: Readable | undefined
      for (let i = 0; i < 11; i++) {
        const message = await rx.receive({ signal: AbortSignal.timeout(5000) })
        if (message.body) body = message.body
      }
      expect(body).toBeDefined()
      let streamed = 0
      const bodyEnded = new Promise<unknown>((resolve) => {
        body!.on('data', (chunk: Buffer) => (streamed += chunk.length))
        body!.on('error', resolve)
        body!.on('close', () => resolve('closed'))
      })
      // Bytes must be flowing when the peer dies: more than the stream's first window (256 KiB, which
      // can arrive in one burst), so credit has gone back and forth at least once.
      const firstWindow = 256 * 1024
      const flowing = Date.now() + 5000
      while (streamed <= firstWindow && Date.now() < flowing) await new Promise((r) => setTimeout(r, 10))
      expect(streamed).toBeGreaterThan(firstWindow)
      // A receive waiting, a send waiting for credit (the peer never reads), an accept waiting.
      const receive = outcome(rx.receive())
      const tx = session.open<Uint8Array>()
      const sends: Promise<unknown>[] = []
      for (let i = 0; i < 16; i++) sends.push(outcome(tx.send(new Uint8Array(64 * 1024))))
      const accept = outcome(session.accept())
      await new Promise((r) => setTimeout(r, 50))
      const blocked = await Promise.race([
        sends.at(-1)!,
        new Promise((r) => setTimeout(() => r('blocked'), 20)),
      ])
      expect(blocked).toBe('blocked')

      const start = Date.now()
      child.kill('SIGKILL')
      faults.killed++
      const results = await Promise.all([receive, accept, ...sends, session.closed, bodyEnded])
      const took = Date.now() - start
      expect(took).toBeLessThan(1000)
      // Sends accepted into the buffer before the kill resolved; every other call rejected, typed.
      const calls = results.slice(0, -1)
      const errors = calls.filter((r) => r !== 'resolved')
      for (const error of errors) expect(error).toBeInstanceOf(LibswarmError)
      faults.pendingRejected += errors.length
      expect(await receive).toBeInstanceOf(LibswarmError)
      expect(await sends.at(-1)).toBeInstanceOf(LibswarmError)
      expect(await session.closed).toBeInstanceOf(LibswarmError)
      await expect(tx.send(new Uint8Array(1))).rejects.toBeInstanceOf(LibswarmError)
    })

    const after = await settledTo(base)
    expect(after.fds, 'open file descriptors').toBeLessThanOrEqual(base.fds)
    expect(after.res, 'active handles and timers').toEqual(
      Object.fromEntries(
        Object.entries(after.res).map(([kind, n]) => [kind, Math.min(n, base.res[kind] ?? 0)]),
      ),
    )
  })

  it('frozen with SIGSTOP (half-open: no FIN, no RST): keepalive ends the session within idleTimeout', async () => {
    const idleTimeout = 1500
    await withPeer(scenario, { idleTimeout }, async (session, child) => {
      const rx = await session.accept({ signal: AbortSignal.timeout(5000) })
      const receive = outcome(
        (async () => {
          for (;;) await rx.receive()
        })(),
      )
      child.kill('SIGSTOP')
      faults.frozen++
      const start = Date.now()
      const ended = await Promise.race([
        session.closed,
        new Promise((r) => setTimeout(() => r('still open'), idleTimeout * 3)),
      ])
      const took = Date.now() - start
      expect(ended).toBeInstanceOf(LimitExceededError)
      // Detected within idleTimeout of the last byte, plus one check interval (idleTimeout / 3).
      expect(took).toBeLessThan(idleTimeout + idleTimeout / 3 + 250)
      expect(await receive).toBeInstanceOf(LibswarmError)
      child.kill('SIGKILL')
    })
  })
})
