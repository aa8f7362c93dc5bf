/**
 * A bearer token that renews itself: fetched on first use, fetched again shortly before it expires
 * (Keystone tokens, Rackspace's 24-hour tokens, OAuth access tokens), and dropped on demand after the
 * provider refused it. Concurrent callers share one fetch.
 */

/** A token and when it expires. */
export interface Token {
  /** The token text (what goes into `X-Auth-Token` or `Authorization: Bearer`). */
  value: string
  /** When it expires, ms since the epoch; undefined when the provider does not say. */
  expiresAt?: number
}

/** Options of {@link RenewingToken}. */
export interface RenewingTokenOptions {
  /** Renew this long before `expiresAt`, in ms. Default: 300 000 (5 minutes). */
  renewBeforeMs?: number
  /** The clock, ms since the epoch. Default: `Date.now`. */
  now?: () => number
}

/**
 * Holds a token from `fetch` and renews it before it expires.
 *
 * @example
 * const token = new RenewingToken(async (signal) => {
 *   const reply = await fetch(`${keystone}/v3/auth/tokens`, { method: 'POST', body, signal })
 *   const { token } = await reply.json()
 *   return { value: reply.headers.get('x-subject-token')!, expiresAt: Date.parse(token.expires_at) }
 * })
 * const headers = { 'X-Auth-Token': await token.get(signal) }
 * // a provider's renewCredentials(): token.invalidate(); await token.get(signal)
 */
export class RenewingToken {
  readonly #fetch: (signal: AbortSignal) => Promise<Token>
  readonly #renewBeforeMs: number
  readonly #now: () => number
  #token: Token | undefined
  #pending: Promise<Token> | undefined
  /** How many tokens were fetched. */
  fetches = 0

  constructor(fetch: (signal: AbortSignal) => Promise<Token>, options: RenewingTokenOptions = {}) {
    this.#fetch = fetch
    this.#renewBeforeMs = options.renewBeforeMs ?? 300_000
    this.#now = options.now ?? Date.now
  }

  /** The current token, fetching a new one when there is none or it expires within `renewBeforeMs`. */
  async get(signal: AbortSignal): Promise<string> {
    const token = this.#token
    if (token && (token.expiresAt === undefined || token.expiresAt - this.#now() > this.#renewBeforeMs)) {
      return token.value
    }
    if (!this.#pending) {
      this.fetches++
      this.#pending = this.#fetch(signal).finally(() => {
        this.#pending = undefined
      })
      this.#pending.then(
        (fresh) => {
          this.#token = fresh
        },
        () => {},
      )
    }
    return (await this.#pending).value
  }

  /** When the current token expires (ms since the epoch), if known. */
  get expiresAt(): number | undefined {
    return this.#token?.expiresAt
  }

  /** Drops the token: the next {@link get} fetches a new one. */
  invalidate(): void {
    this.#token = undefined
  }
}
