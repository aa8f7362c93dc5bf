/**
 * @libswarm/cloud: what every libswarm cloud adapter shares, done once.
 *
 * A provider adapter (ec2, gce, nova, rackspace, digitalocean, softlayer) implements the small
 * {@link CloudProvider} interface (list a page, get, create, start, stop, remove, set tags, console,
 * describe a record, classify an error) and gets, from {@link cloudBackend} or {@link cloudService}:
 * listings that follow every page; throttling (429, `RequestLimitExceeded`, `Retry-After`,
 * `ratelimit-*`) retried with backoff within a budget, then a clear `UnavailableError`; waits for a
 * state with a timeout and progress lines; eventual consistency after a create; credentials renewed
 * once when they expire; `Watch` by polling with a diff within a per-minute request budget; one `Get`
 * shape ({@link CloudInstance}); and the verbs of docs/VERBS.md (Ls/--long, Attach with --logs,
 * Spawn with an idempotency token, Start/Stop with --rm, Set tags, Watch).
 *
 * @example
 * import { Client, notImplemented } from '@libswarm/core'
 * import { cloudService } from '@libswarm/cloud'
 * import { FakeFleet, MemoryProvider } from '@libswarm/cloud/testing'
 *
 * const client = new Client(cloudService(new MemoryProvider(new FakeFleet()), { log: console.error }))
 * const web = await client.spawn(['web', '--image=img-1', '--tag=team=ops'])
 * console.log(await web.get()) // { name: 'web', id: 'i-…', state: 'running', …, provider: 'memcloud', record: {…} }
 * await web.stop(['--rm', '--force'])
 * console.log(await client.ls()) // []
 *
 * @packageDocumentation
 */
export type { FlagKind, ParsedFlags } from './internal/args.ts'
export { isPlausibleName, numberFlag, parseFlags, parseTime, splitPair } from './internal/args.ts'
export type { CloudBackendDefinition } from './internal/backend.ts'
export { CLOUD_CAPABILITIES, cloudBackend } from './internal/backend.ts'
export { ConsoleLines, newText } from './internal/console.ts'
export type { CloudServiceOptions } from './internal/host.ts'
export { CloudHost, COMMON_FLAGS, COMMON_USAGE, cloudService, commonOptions } from './internal/host.ts'
export type { PaginateOptions } from './internal/paging.ts'
export { clampPageSize, paginate } from './internal/paging.ts'
export type { CallSpec, CloudError, RequestPolicyOptions, RequestStats } from './internal/policy.ts'
export { CloudCaller, faultError, NotYetVisibleError, raceAbort, sleep } from './internal/policy.ts'
export type { RenewingTokenOptions, Token } from './internal/token.ts'
export { RenewingToken } from './internal/token.ts'
export type {
  CallOptions,
  CloudAddresses,
  CloudDescription,
  CloudFault,
  CloudInstance,
  CloudProvider,
  CloudState,
  ConsoleChunk,
  Page,
  PageRequest,
  RateLimitInfo,
  SpawnSpec,
  StopOptions,
} from './internal/types.ts'
export { CLOUD_STATES, GONE_STATES, TRANSITIONAL_STATES } from './internal/types.ts'
export type { WaitOptions } from './internal/wait.ts'
export { waitForState } from './internal/wait.ts'
export type { InstanceWatchOptions } from './internal/watch.ts'
export { eventsFor, fingerprintOf, InstanceWatch } from './internal/watch.ts'
