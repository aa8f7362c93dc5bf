import type { Etcd3, Lease } from 'etcd3'
import { etcdError } from './client.ts'

/** Options of a {@link Registration}. */
export interface RegistrationOptions {
  /** Seconds the key outlives its owner (the lease TTL). Default: 10. */
  ttl?: number
  /** Called with lines about lost and renewed leases. */
  log?: (line: string) => void
  /** Where the client connects, for error messages. */
  where?: string
}

/**
 * A key held under a lease that is kept alive while the registration runs: the key disappears when
 * {@link Registration.stop} revokes the lease, or when the process dies and the lease runs out (its
 * TTL after the last keepalive). If etcd drops the lease while the owner is still alive (etcd was
 * unreachable for longer than the TTL), the registration takes a new lease and writes the key again.
 */
export class Registration {
  #lease: Lease | undefined
  #state: 'stopped' | 'running' | 'lost' = 'stopped'
  #retry: ReturnType<typeof setTimeout> | undefined
  readonly ttl: number
  readonly #log: (line: string) => void
  readonly #where: string

  constructor(
    readonly client: Etcd3,
    readonly key: string,
    public value: string,
    options: RegistrationOptions = {},
  ) {
    this.ttl = options.ttl ?? 10
    this.#log = options.log ?? (() => {})
    this.#where = options.where ?? 'etcd'
  }

  /** `running` while the key is held, `lost` while it is being re-registered, `stopped` otherwise. */
  get state(): 'stopped' | 'running' | 'lost' {
    return this.#state
  }

  /** The current lease ID (decimal string), if any. */
  async leaseId(): Promise<string | undefined> {
    return this.#lease?.grant()
  }

  /** Grants a lease and writes the key under it. Idempotent while running. */
  async start(): Promise<void> {
    if (this.#state === 'running') return
    this.#state = 'running'
    try {
      await this.#register()
    } catch (error) {
      this.#state = 'stopped'
      throw etcdError(error, `registering "${this.key}"`, this.#where)
    }
  }

  async #register(): Promise<void> {
    const lease = this.client.lease(this.ttl)
    this.#lease = lease
    lease.on('lost', (error) => {
      if (this.#lease !== lease || this.#state !== 'running') return
      this.#state = 'lost'
      this.#log(`lease of "${this.key}" lost (${error.message}); registering again`)
      this.#again(1000)
    })
    await lease.put(this.key).value(this.value)
  }

  #again(delay: number): void {
    this.#retry = setTimeout(() => {
      if (this.#state !== 'lost') return
      this.#register().then(
        () => {
          if (this.#state === 'lost') {
            this.#state = 'running'
            this.#log(`"${this.key}" registered again`)
          }
        },
        () => this.#again(Math.min(delay * 2, this.ttl * 1000)),
      )
    }, delay)
  }

  /** Writes the value again under the current lease (while running). */
  async refresh(): Promise<void> {
    const lease = this.#lease
    if (this.#state !== 'running' || !lease) return
    try {
      await lease.put(this.key).value(this.value)
    } catch (error) {
      throw etcdError(error, `writing "${this.key}"`, this.#where)
    }
  }

  /** Revokes the lease, so the key is deleted now. Idempotent. */
  async stop(): Promise<void> {
    clearTimeout(this.#retry)
    const lease = this.#lease
    this.#lease = undefined
    if (this.#state === 'stopped') return
    this.#state = 'stopped'
    if (!lease) return
    try {
      await lease.revoke()
    } catch (error) {
      // A lease etcd no longer has is already gone, which is what stop wants.
      if (
        !/LeaseInvalid|NotFound|requested lease not found/i.test(
          `${(error as Error).name} ${(error as Error).message}`,
        )
      ) {
        throw etcdError(error, `revoking the lease of "${this.key}"`, this.#where)
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
