/**
 * Watch by polling with a diff. One poller per service instance, however many watchers: it lists
 * every instance, compares with what it saw before and publishes `create`, `start`, `stop`,
 * `delete` and `change` events. Between two listings it waits the interval, or longer when the
 * listing took more requests than the per-minute budget allows (10 pages at a budget of 60 requests a
 * minute: at least 10 s), or when the provider's rate-limit window is nearly spent. What the service
 * itself changes (Spawn, Start, Stop, Set) is published as soon as it is seen, without waiting for the
 * next poll, and a stale read never undoes a newer one.
 */
import type { Receiver, WatchEvent } from '@libswarm/core'
import { WatchHub } from '@libswarm/core'
import { sleep } from './policy.ts'
import { type CloudDescription, type CloudState, GONE_STATES, type RateLimitInfo } from './types.ts'

/** Options of {@link InstanceWatch}. */
export interface InstanceWatchOptions {
  /** Time between two listings, in ms. */
  intervalMs: number
  /** Requests the poller may make per minute (listings are spaced to stay within it). */
  budgetPerMinute: number
  /** Lists every instance (one request per page); `at` is when the listing started. */
  list(signal: AbortSignal): Promise<{ descriptions: CloudDescription[]; requests: number }>
  /** True if the instance was just created by this service (a listing may not show it yet). */
  recentlyCreated(id: string): boolean
  /** The provider's latest rate-limit report. */
  rateLimit(): RateLimitInfo | undefined
  /** Logs a line (a failed poll). */
  log(line: string): void
  /** The name an instance is watched by (as Ls lists it). */
  nameOf(description: CloudDescription): string
  /** Fires when the service closes: the poller stops, watchers end. */
  signal: AbortSignal
}

interface Seen {
  state: CloudState
  name: string
  fingerprint: string
  /** When the read that produced this started (ms). */
  at: number
}

/** The events one change of an instance makes. */
export function eventsFor(
  before: { state: CloudState; fingerprint: string } | undefined,
  after: CloudDescription,
  fingerprint: string,
  name: string,
): WatchEvent[] {
  const base = { name, id: after.id, state: after.state, providerState: after.providerState }
  const gone = GONE_STATES.includes(after.state)
  if (!before) {
    if (gone) return []
    const created: WatchEvent[] = [{ type: 'create', ...base }]
    if (after.state === 'running') created.push({ type: 'start', ...base })
    return created
  }
  if (GONE_STATES.includes(before.state)) return []
  const previous = before.state
  if (gone) {
    const events: WatchEvent[] = []
    if (previous === 'running') events.push({ type: 'stop', ...base, previous })
    events.push({ type: 'delete', ...base, previous })
    return events
  }
  if (previous !== after.state) {
    const type = after.state === 'running' ? 'start' : after.state === 'stopped' ? 'stop' : 'change'
    return [{ type, ...base, previous }]
  }
  if (before.fingerprint !== fingerprint) return [{ type: 'change', ...base }]
  return []
}

/** What a change compares: everything but the state (compared on its own). */
export function fingerprintOf(d: CloudDescription): string {
  return JSON.stringify([d.name, d.tags, d.addresses, d.type, d.image, d.zone])
}

/** The shared poller and its watchers (see the module doc). */
export class InstanceWatch {
  readonly #options: InstanceWatchOptions
  readonly #hub = new WatchHub()
  readonly #byId = new Map<string, WatchHub>()
  #seen = new Map<string, Seen>()
  #running: Promise<void> | undefined
  #ready: Promise<void> | undefined
  #stop: AbortController | undefined
  #failure: Error | undefined
  /** Listings made since the service started. */
  polls = 0

  constructor(options: InstanceWatchOptions) {
    this.#options = options
    options.signal.addEventListener(
      'abort',
      () => {
        this.#stop?.abort()
        this.#hub.close()
        for (const hub of this.#byId.values()) hub.close()
      },
      { once: true },
    )
  }

  /** How many watchers are subscribed. */
  get watchers(): number {
    let n = this.#hub.size
    for (const hub of this.#byId.values()) n += hub.size
    return n
  }

  /**
   * A new watcher of every instance (or of one, by `id`), from now on. Resolves once the first
   * listing of the poller is in (so what changes after the answer is reported); rejects when it
   * fails.
   */
  async subscribe(signal: AbortSignal, id?: string): Promise<AsyncIterable<WatchEvent>> {
    let hub = this.#hub
    if (id !== undefined) {
      hub = this.#byId.get(id) ?? new WatchHub()
      this.#byId.set(id, hub)
    }
    const receiver = hub.subscribe(AbortSignal.any([signal, this.#options.signal]))
    try {
      await this.#ensureRunning()
    } catch (error) {
      receiver.cancel()
      throw error
    }
    return this.#ending(receiver)
  }

  /** The watcher's events; when the poller gave up, the end is that failure (the caller gets an Error). */
  async *#ending(receiver: Receiver<WatchEvent>): AsyncGenerator<WatchEvent> {
    try {
      for await (const event of receiver) yield event
    } finally {
      receiver.cancel()
    }
    const failure = this.#failure
    if (failure) throw failure
  }

  /** Records what a read of one instance showed (started at `at`), publishing the change if any. */
  observe(description: CloudDescription, at: number, silent = false): void {
    if (!this.#running) return
    const seen = this.#seen.get(description.id)
    if (seen && seen.at > at) return // an older read than what is known
    const fingerprint = fingerprintOf(description)
    const name = this.#options.nameOf(description)
    if (!silent) for (const event of eventsFor(seen, description, fingerprint, name)) this.#publish(event)
    this.#seen.set(description.id, { state: description.state, name, fingerprint, at })
  }

  /** Records that a read started at `at` found no instance `id`. */
  observeGone(id: string, at: number): void {
    if (!this.#running) return
    const seen = this.#seen.get(id)
    if (!seen || seen.at > at) return
    if (!GONE_STATES.includes(seen.state)) {
      const base = { name: seen.name, id, state: 'terminated', providerState: 'gone', previous: seen.state }
      if (seen.state === 'running') this.#publish({ type: 'stop', ...base })
      this.#publish({ type: 'delete', ...base })
    }
    this.#seen.delete(id)
  }

  #publish(event: WatchEvent): void {
    this.#hub.publish(event)
    this.#byId.get(event.id as string)?.publish(event)
  }

  #ensureRunning(): Promise<void> {
    if (this.#ready) return this.#ready
    const stop = new AbortController()
    this.#stop = stop
    this.#failure = undefined
    const signal = AbortSignal.any([stop.signal, this.#options.signal])
    let first!: (error?: unknown) => void
    this.#ready = new Promise<void>((resolve, reject) => {
      first = (error) => (error === undefined ? resolve() : reject(error))
    })
    const ready = this.#ready
    ready.catch(() => {})
    this.#running = this.#loop(signal, first).finally(() => {
      this.#running = undefined
      this.#ready = undefined
      this.#seen = new Map()
    })
    return ready
  }

  /** One listing; the first (`baseline`) only records what is there. Answers the requests it took. */
  async #poll(signal: AbortSignal, baseline = false): Promise<number> {
    const at = Date.now()
    const { descriptions, requests } = await this.#options.list(signal)
    this.polls++
    const listed = new Set<string>()
    for (const description of descriptions) {
      listed.add(description.id)
      this.observe(description, at, baseline)
    }
    for (const [id, seen] of this.#seen) {
      if (listed.has(id) || seen.at > at || this.#options.recentlyCreated(id)) continue
      this.observeGone(id, at)
    }
    return requests
  }

  async #loop(signal: AbortSignal, first: (error?: unknown) => void): Promise<void> {
    const { intervalMs, budgetPerMinute } = this.#options
    let started = Date.now()
    let requests: number
    try {
      requests = await this.#poll(signal, true)
      first()
    } catch (error) {
      first(error)
      return
    }
    let failures = 0
    while (!signal.aborted) {
      // Space listings so that the poller stays within its budget, and within the provider's window.
      const spacing = Math.max(intervalMs, (requests * 60_000) / budgetPerMinute)
      let wait = spacing - (Date.now() - started)
      const rate = this.#options.rateLimit()
      if (rate && rate.remaining < requests && rate.resetAt > Date.now()) {
        wait = Math.max(wait, rate.resetAt - Date.now())
      }
      try {
        if (wait > 0) await sleep(wait, signal)
      } catch {
        return
      }
      if (this.watchers === 0) {
        this.#stop?.abort()
        return
      }
      started = Date.now()
      try {
        requests = await this.#poll(signal)
        failures = 0
      } catch (error) {
        if (signal.aborted) return
        failures++
        this.#options.log(
          `Watch: listing the instances failed (${(error as Error).message}); trying again in ${Math.round(spacing / 1000)} s`,
        )
        const code = (error as { code?: string }).code
        if (code === 'UNAUTHORIZED' || failures >= 10) {
          const reason = error instanceof Error ? error : new Error(String(error))
          this.#abortWatchers(reason)
          return
        }
      }
    }
  }

  /** Ends every watcher with `reason` (each gets an Error and may watch again). */
  #abortWatchers(reason: Error): void {
    this.#options.log(`Watch: stopped watching: ${reason.message}`)
    this.#failure = reason
    this.#hub.close()
    for (const hub of this.#byId.values()) hub.close()
    this.#byId.clear()
  }
}
