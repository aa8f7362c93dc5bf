/**
 * Waiting for an instance to reach a state: polled with exponential backoff (cockatiel's retry on a
 * result), bounded by a timeout, reporting each poll to a progress callback.
 */
import { abortErrorFrom, ConflictError, NotFoundError, TimeoutError } from '@libswarm/core'
import { ExponentialBackoff, handleWhenResult, retry } from 'cockatiel'
import { raceAbort } from './policy.ts'
import { type CloudDescription, type CloudState, TRANSITIONAL_STATES } from './types.ts'

/** Options of {@link waitForState}. */
export interface WaitOptions {
  /** Fires when the caller stops waiting. */
  signal: AbortSignal
  /** How long to wait at most, in ms. */
  timeoutMs: number
  /** The first delay between polls, in ms. Default: 1000. */
  initialDelayMs?: number
  /** The longest delay between polls, in ms. Default: 15 000. */
  maxDelayMs?: number
  /**
   * How long a settled state other than the target is taken for a provider that has not caught up
   * yet (a Stop answered, the listing still says running), in ms. `error` and `terminated` fail at
   * once. Default: 30 000.
   */
  graceMs?: number
  /** Called with every state read while waiting. */
  onProgress?: (description: CloudDescription, elapsedMs: number) => void
  /** Names the thing in messages: `web (i-0abc)`. */
  what: string
  /** The adapter's tag in messages: `adapter-ec2`. */
  tag: string
}

type Poll =
  | { done: true; description: CloudDescription | undefined }
  | { done: false; description: CloudDescription }

/**
 * Reads the instance (`read` answers undefined once it is gone) until its state is one of `targets`
 * (`'terminated'` in targets also accepts gone), and returns the last description (undefined when
 * gone). Fails with ConflictError when it settles elsewhere, NotFoundError when it disappears,
 * TimeoutError after `timeoutMs`.
 */
export async function waitForState(
  read: (signal: AbortSignal) => Promise<CloudDescription | undefined>,
  targets: readonly CloudState[],
  options: WaitOptions,
): Promise<CloudDescription | undefined> {
  const started = Date.now()
  const timeout = AbortSignal.timeout(options.timeoutMs)
  const signal = AbortSignal.any([options.signal, timeout])
  const grace = options.graceMs ?? 30_000
  let last: CloudDescription | undefined
  const policy = retry(
    handleWhenResult((result) => !(result as Poll).done),
    {
      maxAttempts: Number.MAX_SAFE_INTEGER,
      backoff: new ExponentialBackoff({
        initialDelay: options.initialDelayMs ?? 1000,
        maxDelay: Math.max(options.maxDelayMs ?? 15_000, options.initialDelayMs ?? 1000),
      }),
    },
  )
  const goal = targets.join(' or ')
  const run = policy.execute(async (): Promise<Poll> => {
    if (signal.aborted) throw abortErrorFrom(signal)
    const description = await read(signal)
    const elapsed = Date.now() - started
    if (description === undefined) {
      if (targets.includes('terminated')) return { done: true, description: undefined }
      throw new NotFoundError(
        `[${options.tag}] ${options.what} disappeared while waiting for it to be ${goal}`,
      )
    }
    last = description
    options.onProgress?.(description, elapsed)
    if (targets.includes(description.state)) return { done: true, description }
    const settled = !TRANSITIONAL_STATES.includes(description.state)
    if (settled && (description.state === 'error' || description.state === 'terminated' || elapsed > grace)) {
      throw new ConflictError(
        `[${options.tag}] ${options.what} is ${description.state} (${description.providerState}), not ${goal}; Get shows it`,
      )
    }
    return { done: false, description }
  }, signal)
  try {
    const result = await raceAbort(run, signal)
    return result.description
  } catch (error) {
    if (timeout.aborted && !options.signal.aborted) {
      throw new TimeoutError(
        `[${options.tag}] ${options.what} is still ${last ? `${last.state} (${last.providerState})` : 'not visible'} after ${Math.round((Date.now() - started) / 1000)} s of waiting for ${goal}; it may still get there (Get shows its state), or give a longer --wait-timeout`,
      )
    }
    throw error
  }
}
