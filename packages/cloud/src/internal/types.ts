/**
 * The contract between the shared cloud piece and a provider adapter: the one `Get` shape every cloud
 * adapter answers ({@link CloudInstance}), and the small interface a provider implements
 * ({@link CloudProvider}). Everything else (paging, retries, waits, Watch, the verbs) is shared.
 */

/**
 * A run state in the words every cloud adapter uses. Providers map their own onto these (EC2
 * `shutting-down` -> `terminating`, GCE `TERMINATED` -> `stopped`, Nova `SHUTOFF` -> `stopped`,
 * DigitalOcean `off` -> `stopped`, SoftLayer `HALTED` -> `stopped`) and keep theirs in
 * {@link CloudInstance.providerState}.
 */
export type CloudState =
  | 'pending'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'suspended'
  | 'rebooting'
  | 'terminating'
  | 'terminated'
  | 'error'
  | 'unknown'

/** Every {@link CloudState}, for validation and docs. */
export const CLOUD_STATES: readonly CloudState[] = [
  'pending',
  'running',
  'stopping',
  'stopped',
  'suspended',
  'rebooting',
  'terminating',
  'terminated',
  'error',
  'unknown',
]

/** States a change passes through on its way somewhere else (a wait keeps polling through them). */
export const TRANSITIONAL_STATES: readonly CloudState[] = ['pending', 'stopping', 'rebooting', 'terminating']

/** States of an instance that is gone or going: not listed by `Ls`, `NOT_FOUND` to its services. */
export const GONE_STATES: readonly CloudState[] = ['terminating', 'terminated']

/** An instance's addresses, each list in the provider's order. */
export interface CloudAddresses {
  /** Addresses reachable from the internet (IPv4 and IPv6). */
  public: string[]
  /** Addresses inside the provider's network. */
  private: string[]
}

/**
 * What a provider says about one instance, in the shared words: {@link CloudProvider.describe}
 * returns this, and the shared piece adds `provider` and `record` to make the `Get` answer.
 */
export interface CloudDescription {
  /** The provider's id (EC2 `i-0abc...`, a GCE instance name, a Nova server UUID, a droplet id). */
  id: string
  /**
   * The instance's own name (EC2 `Name` tag, GCE/Nova/DigitalOcean name, SoftLayer hostname), or
   * `''` when it has none; `Ls` then lists it by id.
   */
  name: string
  /** Its run state in the shared words. */
  state: CloudState
  /** The provider's own word for the state (`shutting-down`, `TERMINATED`, `SHUTOFF`, `off`). */
  providerState: string
  /** Its addresses. */
  addresses: CloudAddresses
  /** The image it was created from (AMI id, image URL or name), or null. */
  image: string | null
  /** Its size (instance type, machine type, flavor, size slug), or null. */
  type: string | null
  /** Where it runs (availability zone, zone, region, datacenter), or null. */
  zone: string | null
  /** Tags or labels, as text. */
  tags: Record<string, string>
  /** When it was created (or launched), ISO 8601, or null. */
  created: string | null
}

/**
 * The `Get` answer of an instance, the same for every cloud adapter: the shared fields, the
 * adapter's name, and the provider's own record under `record` (the full EC2 `Instance`, GCE
 * `Instance`, Nova `server`, ...). `name` comes first so an `Ls --long` entry starts with `{"name":`.
 */
export interface CloudInstance extends CloudDescription {
  /** The adapter: `ec2`, `gce`, `nova`, `rackspace`, `digitalocean`, `softlayer`. */
  provider: string
  /** The provider's own record of the instance, unchanged. Left out of `Ls --long` unless `--full`. */
  record?: unknown
}

/** What one page request asks for. */
export interface PageRequest extends CallOptions {
  /** The cursor the previous page returned (`next`), undefined for the first page. */
  cursor: string | undefined
  /** How many items to ask for (the provider may return fewer; a fake may force pages of one). */
  pageSize: number
}

/** One page of a listing. */
export interface Page<R> {
  /** The records on this page. */
  items: R[]
  /**
   * The cursor of the next page, undefined on the last one. Whatever the provider pages by, as
   * text: EC2 `NextToken`, GCE `pageToken`, Nova `marker` (the last id of a full page),
   * DigitalOcean's `links.pages.next` URL or page number, SoftLayer's next offset.
   */
  next?: string | undefined
}

/** A provider's rate-limit report, from response headers (`ratelimit-remaining`, `ratelimit-reset`). */
export interface RateLimitInfo {
  /** Requests left in the current window. */
  remaining: number
  /** The window's size, when the provider says. */
  limit?: number
  /** When the window resets, ms since the epoch. */
  resetAt: number
}

/** What every provider call receives. */
export interface CallOptions {
  /** Fires when the caller stops waiting or the service closes: abort the request. */
  signal: AbortSignal
  /**
   * Report rate-limit headers seen on a response: the shared piece then holds the next requests
   * (the Watch poller first) until the window resets when it is nearly spent. Optional to call.
   */
  rateLimit(info: RateLimitInfo): void
}

/** What `Spawn` asks a provider to create. */
export interface SpawnSpec {
  /** The instance's name, or `''` for none (EC2 then has no `Name` tag). */
  name: string
  /** `--image`: the image to boot (required unless the provider has a default). */
  image: string | undefined
  /** `--type`: the size. Default: the provider's. */
  type: string | undefined
  /** `--zone`: where. Default: the provider's. */
  zone: string | undefined
  /** `--tag=KEY=VALUE`, in order. */
  tags: Record<string, string>
  /** `--user-data=TEXT`: cloud-init or a script, as text (the provider encodes it). */
  userData: string | undefined
  /** The provider's own `Spawn` flags (see {@link CloudProvider.spawnOptions}), by name. */
  extra: Map<string, string>
}

/** A slice of an instance's console (serial port) output. */
export interface ConsoleChunk {
  /** The text. */
  text: string
  /**
   * Where the next read starts (GCE's `next` offset), when the provider reads incrementally. Without
   * it each read is a snapshot of the latest output (EC2), and a follower diffs the snapshots.
   */
  next?: string
}

/**
 * What went wrong with a provider call, in terms the shared piece acts on. A provider's
 * {@link CloudProvider.classify} maps its client's errors onto these:
 *
 * | kind           | examples                                        | the shared piece                                     |
 * | -------------- | ----------------------------------------------- | ---------------------------------------------------- |
 * | `throttled`    | 429, `RequestLimitExceeded`, 413 over-limit     | waits (`retryAfterMs` or backoff), retries in budget  |
 * | `unavailable`  | 5xx, connection refused or reset, timeouts      | retries idempotent calls in budget                    |
 * | `expired`      | `RequestExpired`, 401 on an expired token       | renews credentials once, retries                      |
 * | `not-found`    | `InvalidInstanceID.NotFound`, 404               | retries within the consistency window after a create |
 * | `unauthorized` | `AuthFailure`, 401/403                          | `UnauthorizedError`                                   |
 * | `conflict`     | `IncorrectInstanceState`, 409                   | `ConflictError`                                       |
 * | `invalid`      | `InvalidParameterValue`, 400                    | `InvalidArgumentError`                                |
 * | `other`        | anything else                                   | `RemoteError` with `code`                             |
 */
export interface CloudFault {
  /** What kind of failure (table above). */
  kind:
    | 'throttled'
    | 'unavailable'
    | 'expired'
    | 'not-found'
    | 'unauthorized'
    | 'conflict'
    | 'invalid'
    | 'other'
  /** The provider's message, kept as it is. */
  message: string
  /** The provider's error code (`RequestLimitExceeded`, HTTP status), for messages and `RemoteError`. */
  code?: string
  /** How long the provider asked to wait (`Retry-After`, `ratelimit-reset`), in ms. */
  retryAfterMs?: number
  /** What the user can do, appended to the message (`check AWS_PROFILE`). */
  hint?: string
}

/** Options of {@link CloudProvider.stop}. */
export interface StopOptions extends CallOptions {
  /** Power off at once instead of a graceful shutdown (EC2 `Force`, SoftLayer `powerOff`). */
  force: boolean
}

/**
 * What a cloud adapter supplies: one account and region (or project and zone) of one provider.
 * `R` is the provider's own record of an instance. Every method may throw the provider client's
 * own errors: {@link classify} turns them into {@link CloudFault}s, and the shared piece retries,
 * waits and maps them onto `@libswarm/core` errors. Methods get a {@link CallOptions} whose `signal`
 * they pass to their client.
 */
export interface CloudProvider<R = unknown> {
  /** The adapter's name, as the backend is named and `Get` reports it: `ec2`. */
  readonly name: string
  /** Where it points, for messages: `EC2 us-east-1 at https://ec2.us-east-1.amazonaws.com`. */
  readonly where: string
  /** The largest page the provider returns (EC2 1000, GCE 500, DigitalOcean 200); the default page size. */
  readonly maxPageSize: number
  /** The smallest page size the provider accepts (EC2 5). Default: 1. */
  readonly minPageSize?: number
  /** True if `text` has the form of an instance id (EC2 `/^i-[0-9a-f]{8,17}$/`): Attach looks it up by id. */
  isId(text: string): boolean
  /**
   * True if `create` with the same `token` never makes a second instance (EC2 `ClientToken`, GCE
   * `requestId`): the shared piece then retries a create that failed without an answer
   * (connection reset, 5xx). Without it only throttled creates are retried. Default: false.
   */
  readonly idempotentCreate?: boolean
  /** The provider's own `Spawn` flags: name -> takes a value (`{ subnet: true, 'key-name': true }`). Default: none. */
  readonly spawnOptions?: Record<string, boolean>
  /** The usage of those flags, appended to the `Spawn` usage line: `[--subnet=ID] [--key-name=NAME]`. */
  readonly spawnUsage?: string

  /** One page of the account's instances, in a stable order, gone ones included if the provider lists them. */
  list(request: PageRequest): Promise<Page<R>>
  /** One instance by id, or undefined when the provider says there is none. */
  get(id: string, options: CallOptions): Promise<R | undefined>
  /**
   * The instances with this exact name, when the provider can filter by name server-side (EC2 a
   * `tag:Name` filter, Nova `name`). Without it the shared piece scans the listing.
   */
  findByName?(name: string, options: CallOptions): Promise<R[]>
  /** Creates one instance; `token` is its idempotency token (EC2 `ClientToken`, GCE `requestId`). */
  create(spec: SpawnSpec, options: CallOptions & { token: string }): Promise<R>
  /** Powers an instance on. */
  start(id: string, options: CallOptions): Promise<void>
  /** Powers an instance off, gracefully or (`force`) at once. */
  stop(id: string, options: StopOptions): Promise<void>
  /** Removes (terminates, deletes) an instance. */
  remove(id: string, options: CallOptions): Promise<void>
  /** Sets and removes tags (labels, metadata). */
  setTags(id: string, set: Record<string, string>, unset: string[], options: CallOptions): Promise<void>
  /** The console (serial port) output; `cursor` is the previous chunk's `next`. Absent: Attach --logs answers that plainly. */
  console?(id: string, cursor: string | undefined, options: CallOptions): Promise<ConsoleChunk>
  /** The shared words for a record. */
  describe(record: R): CloudDescription
  /** The idempotency token a record was created with (EC2 `ClientToken`), if the provider keeps it. */
  tokenOf?(record: R): string | undefined
  /** Maps a client error onto a {@link CloudFault}. Called for every failure; never throws. */
  classify(error: unknown): CloudFault
  /**
   * Drops cached credentials so the next request fetches fresh ones (a forced refresh of the SDK's
   * chain, a new Keystone token, a new OAuth access token). Called once after an `expired` fault.
   */
  renewCredentials?(options: CallOptions): Promise<void>
  /** What the root's `Get` adds about the account (region, endpoint, project). Default: nothing. */
  info?(): Record<string, unknown>
  /** Releases the client (sockets, timers). */
  close?(): void | Promise<void>
}
