/**
 * @libswarm/transport-compliance: the conformance suite every libswarm transport runs.
 *
 * It dials and listens through the transport with the real session on top, and checks what every
 * transport must give: dial/listen, channels opened by both sides, nesting both ways, byte streams
 * both ways (100 MB with bounded memory), backpressure isolation, limits, bad bytes, close, abort,
 * the listener's authenticate hook, a killed peer, and 10 000 concurrent channels. A case a transport cannot pass is skipped by full
 * name (`suite > case`) with a reason, in the one visible `skip` list.
 *
 * @example
 * // packages/transport-tcp/test/compliance.test.ts
 * import compliance from '@libswarm/transport-compliance'
 * import { tcp } from '../src/index.ts'
 *
 * compliance({ name: 'tcp', transport: () => tcp(), url: () => 'tcp://127.0.0.1:0' })
 *
 * @packageDocumentation
 */
import { describe, expect, it } from 'vitest'
import { makeContext } from './internal/harness.ts'
import { abortSuite } from './suites/abort.ts'
import { authSuite } from './suites/auth.ts'
import { backpressureSuite } from './suites/backpressure.ts'
import { badBytesSuite } from './suites/bad-bytes.ts'
import { baseSuite } from './suites/base.ts'
import { closeSuite } from './suites/close.ts'
import { killSuite } from './suites/kill.ts'
import { limitsSuite } from './suites/limits.ts'
import { nestingSuite } from './suites/nesting.ts'
import { scaleSuite } from './suites/scale.ts'
import { streamsSuite } from './suites/streams.ts'
import type { TransportTestSetup } from './types.ts'

export { accept, type Driven, drive, pattern, type Recorded, record, within, writeAll } from './links.ts'
export type { SkipEntry, TransportTestSetup } from './types.ts'

const suites = {
  base: baseSuite,
  nesting: nestingSuite,
  streams: streamsSuite,
  backpressure: backpressureSuite,
  limits: limitsSuite,
  'bad-bytes': badBytesSuite,
  close: closeSuite,
  abort: abortSuite,
  auth: authSuite,
  kill: killSuite,
  scale: scaleSuite,
} as const

/** Registers the whole suite (a vitest `describe`) for one transport. */
export default function compliance(setup: TransportTestSetup): void {
  const known = new Set<string>()
  const ctx = makeContext(setup, known)
  describe(`transport compliance: ${setup.name}`, () => {
    for (const [name, suite] of Object.entries(suites)) describe(name, () => suite(ctx))
    it('every skip entry names a real case and gives a reason', () => {
      for (const entry of setup.skip ?? []) {
        expect(entry.reason.trim(), 'a skip needs a reason').not.toBe('')
        for (const test of entry.tests) expect(known, `unknown case in skip: "${test}"`).toContain(test)
      }
    })
  })
}
