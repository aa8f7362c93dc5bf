/**
 * The provider-neutral half of every fake cloud: instances with a lifecycle (pending -> running ->
 * stopping -> stopped -> terminating -> terminated), tags, console output, idempotency tokens, and
 * the injections real clouds do to their clients ({@link Faults}): throttling, slow state changes,
 * expired credentials, pages of one, eventual consistency. A fake of one provider wraps a
 * {@link FakeFleet} in that provider's protocol (EC2 Query, GCE REST, Nova JSON, ...).
 */
import { randomBytes } from 'node:crypto'

/** A fake instance's state, in the shared words. */
export type FakeState = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminating' | 'terminated'

/** A refusal of a {@link FakeFleet} operation; each fake renders it in its provider's error format. */
export class FakeFleetError extends Error {
  /** What kind: no such instance, wrong state for the operation, token reused with other parameters. */
  readonly reason: 'not-found' | 'incorrect-state' | 'idempotent-mismatch'
  constructor(reason: FakeFleetError['reason'], message: string) {
    super(message)
    this.name = 'FakeFleetError'
    this.reason = reason
  }
}

/** What a fake is told to do to its clients. Every field can be changed while it runs. */
export class Faults {
  /** Requests left to throttle (each throttled request counts one down). */
  throttleNext = 0
  /** The wait a throttled answer asks for (`Retry-After`, `ratelimit-reset`), in ms; undefined: none. */
  retryAfterMs: number | undefined = undefined
  /** Throttle every request once this many have been answered in the current minute (a per-minute limit); 0: no limit. */
  perMinuteLimit = 0
  /** Pages of at most this many items, whatever the client asks (1: pages of one); 0: as asked. */
  pageSize = 0
  /** How long each state change takes (pending -> running, stopping -> stopped, terminating -> terminated), in ms. */
  transitionMs = 0
  /** How long a new instance stays invisible to reads (listings, gets, actions), in ms. */
  consistencyMs = 0
  /** Credentials issued before the current epoch are refused as expired ({@link expireCredentials}). */
  credentialEpoch = 0
  /** Requests seen, by action or route. */
  readonly requests = new Map<string, number>()
  /** Requests throttled. */
  throttled = 0
  #minute = 0
  #inMinute = 0

  /** Makes every credential issued so far expire: the fake then refuses them as expired. */
  expireCredentials(): void {
    this.credentialEpoch++
  }

  /** Throttles the next `count` requests (asking for `retryAfterMs` if given). */
  throttle(count = 1, retryAfterMs?: number): void {
    this.throttleNext += count
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs
  }

  /** Total requests seen. */
  get total(): number {
    let n = 0
    for (const count of this.requests.values()) n += count
    return n
  }

  /** How many requests of `action` were seen. */
  count(action: string): number {
    return this.requests.get(action) ?? 0
  }

  /**
   * Called by a fake at the start of every request: counts it, and tells whether to refuse it as
   * throttled (with the wait to ask for, in ms, when there is one).
   */
  admit(action: string, now = Date.now()): { throttle: false } | { throttle: true; retryAfterMs?: number } {
    this.requests.set(action, (this.requests.get(action) ?? 0) + 1)
    const minute = Math.floor(now / 60_000)
    if (minute !== this.#minute) {
      this.#minute = minute
      this.#inMinute = 0
    }
    this.#inMinute++
    const limited = this.perMinuteLimit > 0 && this.#inMinute > this.perMinuteLimit
    if (this.throttleNext > 0 || limited) {
      if (this.throttleNext > 0) this.throttleNext--
      this.throttled++
      const wait = limited ? (minute + 1) * 60_000 - now : this.retryAfterMs
      return wait === undefined ? { throttle: true } : { throttle: true, retryAfterMs: wait }
    }
    return { throttle: false }
  }

  /** The page size to answer with when the client asked for `asked`. */
  pageOf(asked: number): number {
    return this.pageSize > 0 ? Math.min(this.pageSize, asked) : asked
  }

  /** Clears the counters and the injections. */
  reset(): void {
    this.throttleNext = 0
    this.retryAfterMs = undefined
    this.perMinuteLimit = 0
    this.pageSize = 0
    this.transitionMs = 0
    this.consistencyMs = 0
    this.requests.clear()
    this.throttled = 0
  }
}

/** What a fake instance is created with. */
export interface FakeInstanceInit {
  name?: string
  image: string
  type: string
  zone?: string
  tags?: Record<string, string>
  userData?: string
  /** The idempotency token: a second create with it answers the first instance. */
  token?: string
  /** The rest of the create request, compared when a token is reused (a mismatch is refused). */
  fingerprint?: string
}

/** One fake instance. */
export interface FakeInstance {
  readonly id: string
  readonly image: string
  readonly type: string
  readonly zone: string
  readonly tags: Map<string, string>
  readonly userData: string | undefined
  readonly token: string | undefined
  readonly fingerprint: string | undefined
  readonly privateIp: string
  readonly publicIp: string
  /** When it was created (ms). */
  readonly createdAt: number
  /** When it becomes visible to reads (ms). */
  readonly visibleAt: number
  /** When it was last launched (started), ms. */
  launchedAt: number
  /** Its state as of `since`, and the state it moves to at `nextAt`. */
  phase: { state: FakeState; since: number; next?: FakeState; nextAt?: number }
  /** How many times it booted (its console shows each boot). */
  boots: number
  /** Why it was last stopped, if it was. */
  reason: string
  /** A number each fake may use for its own ids or ordering. */
  readonly serial: number
}

/** Options of {@link FakeFleet}. */
export interface FakeFleetOptions {
  /** A new instance id. Default: `i-` and 17 hex digits. */
  newId?: () => string
  /** The zone instances run in when none is asked. Default: `us-east-1a`. */
  zone?: string
  /** The clock, ms. Default: `Date.now`. */
  now?: () => number
  /** How long terminated instances stay listed, ms. Default: 3 600 000 (EC2 keeps them about an hour). */
  retainTerminatedMs?: number
  /** The injections. Default: a new {@link Faults}. */
  faults?: Faults
}

/** The instances of a fake cloud account (see the module doc). */
export class FakeFleet {
  readonly faults: Faults
  readonly #instances = new Map<string, FakeInstance>()
  readonly #byToken = new Map<string, FakeInstance>()
  readonly #newId: () => string
  readonly #zone: string
  readonly #retainMs: number
  readonly now: () => number
  #serial = 0

  constructor(options: FakeFleetOptions = {}) {
    this.faults = options.faults ?? new Faults()
    this.#newId = options.newId ?? (() => `i-${randomBytes(9).toString('hex').slice(0, 17)}`)
    this.#zone = options.zone ?? 'us-east-1a'
    this.now = options.now ?? Date.now
    this.#retainMs = options.retainTerminatedMs ?? 3_600_000
  }

  /** How many instances exist (terminated ones still listed included). */
  get size(): number {
    return this.#instances.size
  }

  /**
   * Creates an instance (pending, running after `faults.transitionMs`), or answers the one created
   * with the same `token` (`created: false`). A token reused with another fingerprint is refused.
   */
  create(init: FakeInstanceInit): { instance: FakeInstance; created: boolean } {
    if (init.token !== undefined) {
      const earlier = this.#byToken.get(init.token)
      if (earlier) {
        if (earlier.fingerprint !== init.fingerprint)
          throw new FakeFleetError(
            'idempotent-mismatch',
            `the token ${JSON.stringify(init.token)} was used before with other parameters`,
          )
        return { instance: earlier, created: false }
      }
    }
    const now = this.now()
    const serial = ++this.#serial
    let id = this.#newId()
    while (this.#instances.has(id)) id = this.#newId()
    const instance: FakeInstance = {
      id,
      image: init.image,
      type: init.type,
      zone: init.zone ?? this.#zone,
      tags: new Map(Object.entries(init.tags ?? {})),
      userData: init.userData,
      token: init.token,
      fingerprint: init.fingerprint,
      privateIp: `10.${(serial >> 16) & 255}.${(serial >> 8) & 255}.${serial & 255}`,
      publicIp: `203.0.${(serial >> 8) & 255}.${serial & 255}`,
      createdAt: now,
      visibleAt: now + this.faults.consistencyMs,
      launchedAt: now,
      phase: this.#moving('pending', 'running', now),
      boots: 1,
      reason: '',
      serial,
    }
    if (init.name) instance.tags.set('Name', init.name)
    this.#instances.set(id, instance)
    if (init.token !== undefined) this.#byToken.set(init.token, instance)
    return { instance, created: true }
  }

  /** Creates `count` running instances at once (benchmarks, paging tests). */
  populate(count: number, init: Omit<FakeInstanceInit, 'token' | 'name'> & { namePrefix?: string }): void {
    const now = this.now()
    for (let i = 0; i < count; i++) {
      const { instance } = this.create({
        ...init,
        name: init.namePrefix ? `${init.namePrefix}${i}` : undefined,
      })
      instance.phase = { state: 'running', since: now }
      ;(instance as { visibleAt: number }).visibleAt = now
    }
  }

  #moving(state: FakeState, next: FakeState, now: number): FakeInstance['phase'] {
    const ms = this.faults.transitionMs
    return ms <= 0 ? { state: next, since: now } : { state, since: now, next, nextAt: now + ms }
  }

  /** The instance's state now (a change in progress completes once its time has come). */
  stateOf(instance: FakeInstance): FakeState {
    const phase = instance.phase
    if (phase.next !== undefined && phase.nextAt !== undefined && this.now() >= phase.nextAt) {
      instance.phase = { state: phase.next, since: phase.nextAt }
    }
    return instance.phase.state
  }

  /** Whether reads see it yet (eventual consistency), and it is still listed. */
  visible(instance: FakeInstance): boolean {
    const now = this.now()
    if (now < instance.visibleAt) return false
    if (this.stateOf(instance) === 'terminated' && now - instance.phase.since > this.#retainMs) {
      this.#instances.delete(instance.id)
      return false
    }
    return true
  }

  /** Forgets every instance (between tests). */
  clear(): void {
    this.#instances.clear()
    this.#byToken.clear()
  }

  /** The instance with this id, if reads can see it. */
  get(id: string): FakeInstance | undefined {
    const instance = this.#instances.get(id)
    return instance && this.visible(instance) ? instance : undefined
  }

  /** The instance with this id, or a not-found refusal. */
  need(id: string): FakeInstance {
    const instance = this.get(id)
    if (!instance) throw new FakeFleetError('not-found', `The instance ID '${id}' does not exist`)
    return instance
  }

  /** Every visible instance, in creation order. */
  list(): FakeInstance[] {
    const out: FakeInstance[] = []
    for (const instance of this.#instances.values()) if (this.visible(instance)) out.push(instance)
    return out
  }

  /** Starts an instance; answers its state before and after. Running or pending: no change. */
  start(id: string): { previous: FakeState; current: FakeState } {
    const instance = this.need(id)
    const previous = this.stateOf(instance)
    if (previous === 'running' || previous === 'pending') return { previous, current: previous }
    if (previous !== 'stopped')
      throw new FakeFleetError(
        'incorrect-state',
        `The instance '${id}' is not in a state from which it can be started.`,
      )
    const now = this.now()
    instance.phase = this.#moving('pending', 'running', now)
    instance.launchedAt = now
    instance.boots++
    instance.reason = ''
    return { previous, current: this.stateOf(instance) }
  }

  /** Stops an instance (`force` skips the graceful shutdown, not the transition). Stopped or stopping: no change. */
  stop(id: string, force = false): { previous: FakeState; current: FakeState } {
    const instance = this.need(id)
    const previous = this.stateOf(instance)
    if (previous === 'stopped' || previous === 'stopping') return { previous, current: previous }
    if (previous !== 'running')
      throw new FakeFleetError(
        'incorrect-state',
        `The instance '${id}' is not in a state from which it can be stopped.`,
      )
    instance.phase = this.#moving('stopping', 'stopped', this.now())
    instance.reason = force ? 'User initiated (forced)' : 'User initiated'
    return { previous, current: this.stateOf(instance) }
  }

  /** Terminates an instance (from any state). Already terminated: no change. */
  terminate(id: string): { previous: FakeState; current: FakeState } {
    const instance = this.need(id)
    const previous = this.stateOf(instance)
    if (previous === 'terminated' || previous === 'terminating') return { previous, current: previous }
    instance.phase = this.#moving('terminating', 'terminated', this.now())
    instance.reason = 'User initiated'
    return { previous, current: this.stateOf(instance) }
  }

  /** Sets and removes tags. */
  tag(id: string, set: Record<string, string>, unset: string[] = []): void {
    const instance = this.need(id)
    for (const [key, value] of Object.entries(set)) instance.tags.set(key, value)
    for (const key of unset) instance.tags.delete(key)
  }

  /** The instance's console output: a boot log per boot while it ran. Empty before its first boot completes. */
  console(id: string): string {
    const instance = this.need(id)
    const state = this.stateOf(instance)
    const boots = state === 'pending' ? instance.boots - 1 : instance.boots
    const lines: string[] = []
    for (let boot = 1; boot <= boots; boot++) {
      lines.push(
        `[    0.000000] Linux version 6.1.0-fake (boot ${boot} of ${instance.id})`,
        `[    0.100000] Command line: BOOT_IMAGE=${instance.image} root=/dev/vda1`,
        `cloud-init: ${instance.userData ? `running user data (${instance.userData.length} bytes)` : 'no user data'}`,
        `${instance.tags.get('Name') ?? instance.id} login:`,
      )
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`
  }
}
