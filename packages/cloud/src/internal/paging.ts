/**
 * Listings that follow every page, whatever the provider pages by: each page's `next` cursor is fed
 * back until there is none. A provider that hands out the same cursor twice would loop forever; that
 * ends with a clear error instead.
 */
import { RemoteError } from '@libswarm/core'
import type { CloudCaller } from './policy.ts'
import type { CloudProvider } from './types.ts'

/** Options of {@link paginate}. */
export interface PaginateOptions {
  /** Items asked per page. Default: the provider's `maxPageSize`. */
  pageSize?: number
  /** Fires to stop listing. */
  signal: AbortSignal
  /** Names the listing in messages. Default: `Ls`. */
  what?: string
  /** Counted as Watch requests. Default: false. */
  watch?: boolean
  /** The most pages followed before giving up with an error. Default: 1 000 000. */
  maxPages?: number
}

/** The provider's listing, page by page (each page's items as an array), through `caller`. */
export async function* paginate<R>(
  caller: CloudCaller,
  provider: CloudProvider<R>,
  options: PaginateOptions,
): AsyncGenerator<R[]> {
  const what = options.what ?? 'Ls'
  const pageSize = clampPageSize(provider, options.pageSize)
  const maxPages = options.maxPages ?? 1_000_000
  const seen = new Set<string>()
  let cursor: string | undefined
  for (let page = 1; ; page++) {
    const result = await caller.call(
      page === 1 ? what : `${what} (page ${page})`,
      (call) => provider.list({ ...call, cursor, pageSize }),
      { signal: options.signal, watch: options.watch },
    )
    yield result.items
    const next = result.next
    if (next === undefined || next === '') return
    if (seen.has(next) || page >= maxPages) {
      throw new RemoteError(
        `[${caller.tag}] ${what}: ${provider.where} ${seen.has(next) ? `returned the page cursor ${JSON.stringify(next.slice(0, 80))} twice` : `still had more after ${maxPages} pages`}; the listing would never end, so it stopped`,
      )
    }
    seen.add(next)
    cursor = next
  }
}

/** `asked` within the provider's bounds, or its maximum. */
export function clampPageSize(provider: CloudProvider<unknown>, asked: number | undefined): number {
  const min = provider.minPageSize ?? 1
  return Math.max(min, Math.min(provider.maxPageSize, Math.floor(asked ?? provider.maxPageSize)))
}
