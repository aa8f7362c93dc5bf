/**
 * @libswarm/adapter-compliance: the conformance suite every libswarm adapter runs.
 *
 * It reads the backend's declared {@link Capabilities} (the verbs it answers, and whether it
 * spawns children, starts and stops them, streams Watch events, gives Connect streams) and checks
 * the contract of `docs/VERBS.md` against it: Ls/Attach/Get consistency, Spawn then Ls, Start/Stop
 * seen by Get, Watch seeing the change, "not implemented" for undeclared verbs, clear errors for
 * unknown verbs, bad spawn args and malformed args. Every case runs twice: with the instance in
 * memory and reached over a real TCP session. A case an adapter cannot pass is skipped by name with
 * a reason (`skip`), and the suite fails if a skip names a case that does not exist.
 *
 * @example
 * // packages/adapter-simulator/test/compliance.test.ts
 * import compliance from '@libswarm/adapter-compliance'
 * import { backend } from '../src/index.ts'
 *
 * compliance({
 *   name: 'simulator',
 *   backend,
 *   spawnArgs: () => [`web-${Math.random().toString(36).slice(2, 8)}`],
 *   badSpawnArgs: ['--no-such-option'],
 *   skip: [{ reason: 'the simulator has no byte streams', tests: ['Connect gives a byte stream'] }],
 * })
 *
 * @packageDocumentation
 */
import type { Capabilities } from '@libswarm/core'
import { type AdapterTestSetup, runAdapterCompliance } from './internal/suite.ts'

export { type OverSession, overSession, type Scenario, scenarios } from './internal/session.ts'
export type { AdapterTestSetup } from './internal/suite.ts'
export { defaultRunState, TEST_NAMES } from './internal/suite.ts'
export type { Capabilities }

/** Registers the adapter compliance suite for `setup` (call it at the top level of a vitest file). */
export default function compliance(setup: AdapterTestSetup): void {
  runAdapterCompliance(setup)
}
