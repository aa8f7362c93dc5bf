import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Link } from '@libswarm/core'

/** A started link that records what it receives. */
export interface Driven {
  link: Link
  chunks: Uint8Array[]
  /** Resolves when the peer ended its side. */
  ended: Promise<void>
  /** Resolves with the terminal event: `close` (undefined) or the error. */
  finished: Promise<Error | undefined>
  /** Resolves at the next `drain`. */
  drained(): Promise<void>
  received(): Buffer
}

export function drive(link: Link): Driven {
  const chunks: Uint8Array[] = []
  let onEnd!: () => void
  let onFinish!: (error: Error | undefined) => void
  const ended = new Promise<void>((resolve) => (onEnd = resolve))
  const finished = new Promise<Error | undefined>((resolve) => (onFinish = resolve))
  let drainWaiters: Array<() => void> = []
  link.start({
    data: (chunk) => chunks.push(Buffer.from(chunk)),
    end: onEnd,
    error: (error) => onFinish(error),
    close: () => onFinish(undefined),
    drain: () => {
      const waiters = drainWaiters
      drainWaiters = []
      for (const w of waiters) w()
    },
  })
  return {
    link,
    chunks,
    ended,
    finished,
    drained: () => new Promise<void>((resolve) => drainWaiters.push(resolve)),
    received: () => Buffer.concat(chunks),
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

/** Writes `total` bytes of a known pattern, honouring backpressure. */
export async function writeAll(d: Driven, total: number, chunkSize = 64 * 1024): Promise<void> {
  const chunk = pattern(chunkSize)
  let sent = 0
  while (sent < total) {
    const n = Math.min(chunkSize, total - sent)
    const ok = d.link.write(n === chunkSize ? chunk : chunk.subarray(0, n))
    sent += n
    if (!ok) await within(d.drained(), 10_000, 'drain')
  }
}

export function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 7 + 3) & 0xff
  return out
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export function makeCerts(): { ca: Buffer; cert: Buffer; key: Buffer; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-ws-certs-'))
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=libswarm test CA',
  )
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  const ext = join(dir, 'ext.cnf')
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    ext,
  )
  return {
    ca: readFileSync(join(dir, 'ca.crt')),
    cert: readFileSync(join(dir, 'server.crt')),
    key: readFileSync(join(dir, 'server.key')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}
