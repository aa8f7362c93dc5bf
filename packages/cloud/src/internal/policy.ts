/**
 * Every provider request goes through {@link CloudCaller.call}: throttling and transient failures
 * are retried with exponential backoff and jitter (or the wait the provider asked for) within a
 * budget of tries and time, expired credentials are renewed once, an instance that is NotFound right
 * after it was created is looked for again for a while, and what finally fails becomes one of
 * `@libswarm/core`'s errors with a message that says what to do. The retry loop is cockatiel's.
 */
import {
  abortErrorFrom,
  ConflictError,
  InvalidArgumentError,
  type LibswarmError,
  NotFoundError,
  RemoteError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { DelegateBackoff, ExponentialBackoff, handleWhen, type IBackoff, retry } from 'cockatiel'
import type { CallOptions, CloudFault, CloudProvider, RateLimitInfo } from './types.ts'

/** Options of {@link CloudCaller}. */
export interface RequestPolicyOptions {
  /** How many times one request is retried at most. Default: 8. */
  retries?: number
  /** How long one request may spend being retried, in ms, before it fails with UnavailableError. Default: 60 000. */
  retryBudgetMs?: number
  /** The first backoff, in ms; later ones grow exponentially with jitter. Default: 500. */
  retryDelayMs?: number
  /** The longest backoff, in ms. Default: 20 000. */
  maxRetryDelayMs?: number
  /** How long after a create a NotFound for that instance is retried (eventual consistency), in ms. Default: 30 000. */
  consistencyMs?: number
  /** Called with a line when a request is throttled, retried or its credentials renewed. Default: ignored. */
  log?: (line: string) => void
}

/** Counters of what a {@link CloudCaller} did, read by the root's `Get` and the benchmarks. */
export interface RequestStats {
  /** Provider calls made (each try counts). */
  requests: number
  /** Of those, calls made by the Watch poller. */
  watchRequests: number
  /** Tries that were throttled. */
  throttled: number
  /** Retries (of throttled, transient or not-yet-consistent calls). */
  retries: number
  /** Credential renewals after an `expired` fault. */
  renewals: number
}

/** How a call is made. */
export interface CallSpec {
  /** The caller's signal (the request is abandoned when it fires). */
  signal: AbortSignal
  /** True if repeating the call cannot do the same thing twice (reads, start/stop, tags, creates with a token the provider honours). Default: true. */
  idempotent?: boolean
  /** The instance the call is about: a NotFound for an instance created within the consistency window is retried. */
  id?: string
  /** Counted as a Watch request. */
  watch?: boolean
}

/** An error a failed call ends with, carrying the fault it came from. */
export type CloudError = LibswarmError & { fault?: CloudFault }

/** What a read throws when it found nothing for an instance that may still appear (eventual consistency). */
export class NotYetVisibleError extends Error {
  constructor(id: string) {
    super(`instance ${id} is not visible yet`)
    this.name = 'NotYetVisibleError'
  }
}

/** Turns a final fault into the matching `@libswarm/core` error. */
export function faultError(
  tag: string,
  what: string,
  fault: CloudFault,
  cause: unknown,
  extra = '',
): CloudError {
  const code = fault.code ? ` (${fault.code})` : ''
  const text = `[${tag}] ${what}: ${fault.message}${code}${extra}${fault.hint ? `; ${fault.hint}` : ''}`
  let error: CloudError
  switch (fault.kind) {
    case 'throttled':
    case 'unavailable':
      error = new UnavailableError(text, { cause })
      break
    case 'expired':
    case 'unauthorized':
      error = new UnauthorizedError(text, { cause })
      break
    case 'not-found':
      error = new NotFoundError(text, { cause })
      break
    case 'conflict':
      error = new ConflictError(text, { cause })
      break
    case 'invalid':
      error = new InvalidArgumentError(text, { cause })
      break
    default:
      error = new RemoteError(text, { cause, remoteCode: fault.code })
  }
  error.fault = fault
  return error
}

/** Rejects as soon as `signal` fires, whatever `promise` does (cockatiel's backoff sleeps are not abortable). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(abortErrorFrom(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortErrorFrom(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/** Resolves after `ms`, or rejects when `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortErrorFrom(signal))
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortErrorFrom(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Makes provider calls with retries, renewal and error mapping (see the module doc). */
export class CloudCaller {
  readonly tag: string
  readonly stats: RequestStats = { requests: 0, watchRequests: 0, throttled: 0, retries: 0, renewals: 0 }
  readonly #provider: CloudProvider<unknown>
  readonly #retries: number
  readonly #budgetMs: number
  readonly #delayMs: number
  readonly #maxDelayMs: number
  readonly #consistencyMs: number
  readonly #log: (line: string) => void
  /** Ids created by this caller, with when: a NotFound for them is retried for a while. */
  readonly #created = new Map<string, number>()
  /** The provider's last rate-limit report. */
  #rate: RateLimitInfo | undefined
  #renewing: Promise<void> | undefined

  constructor(provider: CloudProvider<unknown>, options: RequestPolicyOptions = {}) {
    this.#provider = provider
    this.tag = `adapter-${provider.name}`
    this.#retries = options.retries ?? 8
    this.#budgetMs = options.retryBudgetMs ?? 60_000
    this.#delayMs = options.retryDelayMs ?? 500
    this.#maxDelayMs = Math.max(options.maxRetryDelayMs ?? 20_000, this.#delayMs)
    this.#consistencyMs = options.consistencyMs ?? 30_000
    this.#log = options.log ?? (() => {})
  }

  /** The consistency window, in ms. */
  get consistencyMs(): number {
    return this.#consistencyMs
  }

  /** Remembers that `id` was just created: reads of it that answer NotFound are retried for a while. */
  markCreated(id: string): void {
    const now = Date.now()
    for (const [old, at] of this.#created) if (now - at > this.#consistencyMs) this.#created.delete(old)
    this.#created.set(id, now)
  }

  /** True if `id` was created by this caller within the consistency window. */
  recentlyCreated(id: string): boolean {
    const at = this.#created.get(id)
    return at !== undefined && Date.now() - at <= this.#consistencyMs
  }

  /** Forgets a created id (it was removed). */
  forget(id: string): void {
    this.#created.delete(id)
  }

  /** The latest rate-limit report, if the provider gives them. */
  get rateLimit(): RateLimitInfo | undefined {
    return this.#rate
  }

  /**
   * Runs `fn` (one provider request) under the policy and returns its value, or throws the mapped
   * error: `what` names the operation in messages (`Ls`, `Start web (i-0abc)`).
   */
  async call<T>(what: string, fn: (options: CallOptions) => Promise<T>, spec: CallSpec): Promise<T> {
    try {
      return await this.#attempt(what, fn, spec)
    } catch (error) {
      const fault = (error as CloudError).fault
      if (fault?.kind !== 'expired' || !this.#provider.renewCredentials || spec.signal.aborted) throw error
      // Expired credentials: renew once (shared by concurrent calls), then try again.
      this.#log(`[${this.tag}] ${what}: credentials expired (${fault.code ?? fault.message}); renewing them`)
      await this.#renew(what, spec.signal)
      return this.#attempt(what, fn, spec, ' even after renewing the credentials')
    }
  }

  async #renew(what: string, signal: AbortSignal): Promise<void> {
    if (!this.#renewing) {
      this.stats.renewals++
      this.#renewing = this.#provider.renewCredentials!({
        signal,
        rateLimit: (info) => this.#noteRate(info),
      }).finally(() => {
        this.#renewing = undefined
      })
    }
    try {
      await raceAbort(this.#renewing, signal)
    } catch (error) {
      if (signal.aborted) throw abortErrorFrom(signal)
      const fault = this.#classify(error)
      throw faultError(this.tag, `${what}: renewing the credentials failed`, fault, error)
    }
  }

  #noteRate(info: RateLimitInfo): void {
    if (Number.isFinite(info.remaining) && Number.isFinite(info.resetAt)) this.#rate = info
  }

  #classify(error: unknown): CloudFault {
    if (error instanceof NotYetVisibleError) return { kind: 'not-found', message: error.message }
    try {
      return this.#provider.classify(error)
    } catch {
      return { kind: 'other', message: error instanceof Error ? error.message : String(error) }
    }
  }

  async #attempt<T>(
    what: string,
    fn: (options: CallOptions) => Promise<T>,
    spec: CallSpec,
    extra = '',
  ): Promise<T> {
    const started = Date.now()
    const idempotent = spec.idempotent ?? true
    let last: { fault: CloudFault; error: unknown } | undefined
    let tries = 0
    let retried = 0
    const retryable = (fault: CloudFault): boolean => {
      // Not visible yet: retried for as long as the consistency window lasts, whatever the count.
      if (fault.kind === 'not-found') return spec.id !== undefined && this.recentlyCreated(spec.id)
      if (Date.now() - started >= this.#budgetMs) return false
      if (fault.kind !== 'throttled' && !(fault.kind === 'unavailable' && idempotent)) return false
      return ++retried <= this.#retries
    }
    const expo = new ExponentialBackoff({ initialDelay: this.#delayMs, maxDelay: this.#maxDelayMs })
    const policy = retry(
      handleWhen((error) => {
        const fault = (error as CloudError).fault
        return fault !== undefined && !spec.signal.aborted && retryable(fault)
      }),
      {
        maxAttempts: Number.MAX_SAFE_INTEGER, // bounded by `retryable`: the count, the budget, the window
        backoff: new DelegateBackoff<{ result: unknown }, IBackoff<unknown> | undefined>((context, state) => {
          const next = state ? state.next(context) : expo.next()
          const asked = last?.fault.retryAfterMs ?? 0
          // Never wait past the budget (the last try then fails with what the provider said), nor,
          // for an instance not visible yet, longer than a second between looks.
          const left = Math.max(0, this.#budgetMs - (Date.now() - started))
          const cap = last?.fault.kind === 'not-found' ? Math.min(left, 1000) : left
          return { delay: Math.min(Math.max(next.duration, asked), cap), state: next }
        }),
      },
    )
    policy.onRetry(({ delay }) => {
      this.stats.retries++
      if (last)
        this.#log(
          `[${this.tag}] ${what}: ${last.fault.kind === 'not-found' ? 'not visible yet (eventual consistency)' : `${last.fault.code ?? last.fault.kind}`}; retrying in ${Math.round(delay)} ms`,
        )
    })
    const run = policy.execute(async () => {
      if (spec.signal.aborted) throw abortErrorFrom(spec.signal)
      await this.#gate(what, spec.signal)
      this.stats.requests++
      tries++
      if (spec.watch) this.stats.watchRequests++
      try {
        return await fn({ signal: spec.signal, rateLimit: (info) => this.#noteRate(info) })
      } catch (error) {
        if (spec.signal.aborted) throw abortErrorFrom(spec.signal)
        const fault = this.#classify(error)
        if (fault.kind === 'throttled') this.stats.throttled++
        last = { fault, error }
        const mapped = faultError(this.tag, what, fault, error, extra)
        throw mapped
      }
    }, spec.signal)
    try {
      return await raceAbort(run, spec.signal)
    } catch (error) {
      const fault = (error as CloudError).fault
      if (fault && (fault.kind === 'throttled' || fault.kind === 'unavailable') && last) {
        const spent = Math.round((Date.now() - started) / 1000)
        const again =
          fault.kind === 'throttled'
            ? `${this.#provider.where} kept throttling`
            : `${this.#provider.where} did not answer`
        const mapped = faultError(
          this.tag,
          what,
          {
            ...fault,
            message: `${again} (${fault.message}) after ${tries} ${tries === 1 ? 'try' : 'tries'} in ${spent} s`,
            hint:
              fault.hint ??
              (fault.kind === 'throttled'
                ? 'wait and try again, or make fewer requests (--watch-budget, --watch-interval)'
                : 'check the endpoint and the network, then try again'),
          },
          last.error,
          extra,
        )
        throw mapped
      }
      throw error
    }
  }

  /** Holds a request while the provider's rate-limit window is spent (ratelimit-remaining 0). */
  async #gate(what: string, signal: AbortSignal): Promise<void> {
    const rate = this.#rate
    if (!rate || rate.remaining > 0) return
    const wait = rate.resetAt - Date.now()
    if (wait <= 0) {
      this.#rate = undefined
      return
    }
    if (wait > this.#budgetMs) {
      throw new UnavailableError(
        `[${this.tag}] ${what}: ${this.#provider.where} allows no more requests until ${new Date(rate.resetAt).toISOString()} (rate limit spent); try again then`,
      )
    }
    this.#log(
      `[${this.tag}] ${what}: rate limit spent; waiting ${Math.round(wait)} ms for the window to reset`,
    )
    await sleep(wait, signal)
    this.#rate = undefined
  }
}
