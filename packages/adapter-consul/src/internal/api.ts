import {
  abortErrorFrom,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'

/** Where and how to reach a Consul agent, exactly as a real deployment configures it. */
export interface ConsulOptions {
  /**
   * The agent's HTTP address: `http://HOST:PORT`, `https://HOST:PORT` or `HOST:PORT`. Default:
   * `$CONSUL_HTTP_ADDR`, else `http://127.0.0.1:8500`.
   */
  address?: string
  /** ACL token, sent as `X-Consul-Token`. Default: `$CONSUL_HTTP_TOKEN`, else none. */
  token?: string
  /** Datacenter for catalog, health and KV queries. Default: the agent's. */
  datacenter?: string
  /** Milliseconds a non-blocking request may take. Default: 10000. */
  timeout?: number
}

/** An answer from the agent. */
export interface ConsulResponse<T = unknown> {
  status: number
  body: T
  /** `X-Consul-Index`, when the endpoint sets it. */
  index: number | undefined
}

/** Parses an agent address the way the Consul CLI reads `CONSUL_HTTP_ADDR`. */
export function parseAddress(address: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(address) ? address : `http://${address}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new InvalidArgumentError(
      `[adapter-consul] bad agent address "${address}": expected http://HOST:PORT (e.g. http://127.0.0.1:8500)`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(
      `[adapter-consul] bad agent address "${address}": the scheme must be http or https`,
    )
  }
  return url.origin
}

/** A small client of the Consul HTTP API (fetch-based). */
export class ConsulApi {
  readonly base: string
  readonly token: string | undefined
  readonly datacenter: string | undefined
  readonly timeout: number

  constructor(options: ConsulOptions = {}) {
    this.base = parseAddress(options.address ?? process.env.CONSUL_HTTP_ADDR ?? 'http://127.0.0.1:8500')
    this.token = options.token ?? (process.env.CONSUL_HTTP_TOKEN || undefined)
    this.datacenter = options.datacenter
    this.timeout = options.timeout ?? 10_000
  }

  /**
   * Sends one request. `query` values are added to the URL (`dc` too when configured). A 404 comes
   * back as a response (callers decide); other failures throw the matching libswarm error.
   */
  async request<T = unknown>(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    options: {
      query?: Record<string, string | undefined>
      body?: string
      signal?: AbortSignal
      timeout?: number
    } = {},
  ): Promise<ConsulResponse<T>> {
    const url = new URL(path, this.base)
    for (const [name, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, value)
    if (this.datacenter && !path.startsWith('/v1/agent/')) url.searchParams.set('dc', this.datacenter)
    const headers: Record<string, string> = {}
    if (this.token) headers['X-Consul-Token'] = this.token
    const timeout = AbortSignal.timeout(options.timeout ?? this.timeout)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
    let response: Response
    try {
      response = await fetch(url, { method, headers, body: options.body, signal })
    } catch (error) {
      if (options.signal?.aborted) throw abortErrorFrom(options.signal)
      const why = timeout.aborted
        ? 'timed out'
        : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message)
      throw new UnavailableError(
        `[adapter-consul] cannot reach the Consul agent at ${this.base} (${why}); check the address and that the agent runs`,
        { cause: error },
      )
    }
    const text = await response.text()
    const indexHeader = response.headers.get('X-Consul-Index')
    const index = indexHeader === null ? undefined : Number(indexHeader)
    const what = `${method} ${url.pathname}`
    if (response.status === 403 || response.status === 401) {
      throw new UnauthorizedError(
        `[adapter-consul] the agent refused ${what}: ${text.trim() || response.statusText}; check the ACL token (--token or $CONSUL_HTTP_TOKEN)`,
      )
    }
    if (response.status === 400)
      throw new InvalidArgumentError(`[adapter-consul] the agent rejected ${what}: ${text.trim()}`)
    if (response.status === 409) throw new ConflictError(`[adapter-consul] ${what}: ${text.trim()}`)
    if (response.status >= 500) {
      throw new UnavailableError(
        `[adapter-consul] the agent failed ${what} (${response.status}): ${text.trim()}`,
      )
    }
    if (response.status !== 404 && !response.ok) {
      throw new UnavailableError(
        `[adapter-consul] unexpected ${response.status} for ${what}: ${text.trim()}`,
        {
          retryable: false,
        },
      )
    }
    let body: unknown = text
    if ((response.headers.get('Content-Type') ?? '').includes('json') && text !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        throw new UnavailableError(`[adapter-consul] the agent answered ${what} with bad JSON`, {
          retryable: false,
        })
      }
    }
    return { status: response.status, body: body as T, index }
  }

  /** Like {@link request}, but a 404 throws NotFoundError with `notFound` as its message. */
  async must<T = unknown>(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    notFound: string,
    options: Parameters<ConsulApi['request']>[2] = {},
  ): Promise<ConsulResponse<T>> {
    const response = await this.request<T>(method, path, options)
    if (response.status === 404) {
      throw new NotFoundError(
        `[adapter-consul] ${notFound}${typeof response.body === 'string' && response.body ? ` (${response.body.trim()})` : ''}`,
      )
    }
    return response
  }
}
