import { setTimeout as sleep } from 'node:timers/promises'
import type { ConsulApi, ConsulResponse } from './api.ts'

/** Options of {@link blockingQuery}. */
export interface BlockingOptions {
  signal: AbortSignal
  /** How long each request may hang (Consul's `wait`), in seconds. Default: 300 (Consul's own default). */
  wait?: number
  /** First delay after a failed request, in ms; doubles up to `maxBackoff`. Default: 1000. */
  minBackoff?: number
  /** Longest delay after failed requests, in ms. Default: 30000. */
  maxBackoff?: number
  /** Shortest time between two requests, in ms, so a misbehaving agent is not hammered. Default: 50. */
  minInterval?: number
  /** The `X-Consul-Index` of an answer the caller already has: the first request blocks past it. Default: 0. */
  index?: number
  /** Extra query parameters. */
  query?: Record<string, string | undefined>
  /** Told about failures (the query keeps going). */
  log?: (line: string) => void
}

/**
 * Follows an endpoint with Consul blocking queries: yields the first answer, then each answer whose
 * `X-Consul-Index` moved. Follows Consul's guidance: an index that goes backwards (a snapshot
 * restore, a new leader) resets to 0 and the result is yielded again; an index below 1 is treated
 * as 1 so the next request still blocks; failures back off exponentially and do not end the loop.
 * Ends when `signal` fires.
 */
export async function* blockingQuery<T>(
  api: ConsulApi,
  path: string,
  options: BlockingOptions,
): AsyncGenerator<ConsulResponse<T>> {
  const { signal, wait = 300, minBackoff = 1000, maxBackoff = 30_000, minInterval = 50 } = options
  let index = options.index !== undefined && options.index > 0 ? options.index : 0
  let backoff = minBackoff
  let last = 0
  while (!signal.aborted) {
    const since = Date.now() - last
    // Each wait ends early when the signal fires (the rejection is that; the loop then stops).
    if (since < minInterval) await sleep(minInterval - since, undefined, { signal }).catch(() => {})
    last = Date.now()
    let response: ConsulResponse<T>
    try {
      response = await api.request<T>('GET', path, {
        query: { ...options.query, index: index > 0 ? String(index) : undefined, wait: `${wait}s` },
        signal,
        // The agent adds up to wait/16 of jitter; allow for that plus the network.
        timeout: wait * 1000 * (17 / 16) + 10_000,
      })
    } catch (error) {
      if (signal.aborted) return
      options.log?.(`${(error as Error).message}; retrying in ${backoff} ms`)
      await sleep(backoff, undefined, { signal }).catch(() => {})
      backoff = Math.min(backoff * 2, maxBackoff)
      continue
    }
    backoff = minBackoff
    let next = response.index ?? 0
    if (next < index) {
      options.log?.(`X-Consul-Index went backwards (${index} -> ${next}) on ${path}; starting over`)
      index = 0
    }
    if (next < 1) next = 1
    if (next === index) continue // woke up with no change (the wait ran out)
    index = next
    yield response
  }
}
