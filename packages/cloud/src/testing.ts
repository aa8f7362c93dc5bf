/**
 * @libswarm/cloud/testing: the provider-neutral half of a fake cloud, for the fakes of each cloud
 * adapter and for users testing their own code offline. {@link FakeFleet} keeps instances with a
 * lifecycle, tags, console output and idempotency tokens; {@link Faults} is what a test tells a fake
 * to do (throttle, slow state changes, expired credentials, pages of one, eventual consistency); a
 * provider's fake wraps both in its protocol. {@link memoryCloud} is a whole cloud adapter in memory.
 *
 * @example
 * import { FakeFleet } from '@libswarm/cloud/testing'
 *
 * const fleet = new FakeFleet()
 * fleet.faults.transitionMs = 2000 // pending for 2 s
 * fleet.faults.throttle(3) // the next three requests are throttled
 * fleet.faults.pageSize = 1 // pages of one
 * fleet.populate(100, { image: 'ami-12345678', type: 't3.micro' })
 *
 * @packageDocumentation
 */
export type { FakeFleetOptions, FakeInstance, FakeInstanceInit, FakeState } from './internal/fake.ts'
export { FakeFleet, FakeFleetError, Faults } from './internal/fake.ts'
export type { MemoryRecord } from './internal/memory.ts'
export { MemoryCloudError, MemoryProvider, memoryCloud } from './internal/memory.ts'
