/**
 * A cloud provider kept in memory over a {@link FakeFleet}, with no network: the reference
 * implementation of {@link CloudProvider} (the smallest complete one), and what the shared piece's
 * own tests run against, injections included.
 */
import type { Backend } from '@libswarm/core'
import { InvalidArgumentError } from '@libswarm/core'
import { cloudBackend } from './backend.ts'
import { FakeFleet, FakeFleetError, type FakeInstance } from './fake.ts'
import type {
  CallOptions,
  CloudDescription,
  CloudFault,
  CloudProvider,
  Page,
  PageRequest,
  SpawnSpec,
} from './types.ts'

/** A refusal of the memory provider: throttled or expired, as a real client's error would be. */
export class MemoryCloudError extends Error {
  readonly kind: 'throttled' | 'expired'
  readonly retryAfterMs: number | undefined
  constructor(kind: 'throttled' | 'expired', retryAfterMs?: number) {
    super(kind === 'throttled' ? 'too many requests' : 'the credentials have expired')
    this.name = 'MemoryCloudError'
    this.kind = kind
    this.retryAfterMs = retryAfterMs
  }
}

/** A snapshot of a fake instance, as the memory provider's record. */
export interface MemoryRecord {
  id: string
  name: string
  state: string
  image: string
  type: string
  zone: string
  tags: Record<string, string>
  privateIp: string
  publicIp: string
  created: string
  token: string | undefined
}

/** The memory provider over `fleet` (see the module doc). */
export class MemoryProvider implements CloudProvider<MemoryRecord> {
  readonly name: string
  readonly where: string
  readonly maxPageSize = 100
  readonly idempotentCreate = true
  readonly spawnOptions = { 'fail-boot': false }
  readonly spawnUsage = '[--fail-boot]'
  readonly fleet: FakeFleet
  #epoch: number

  constructor(fleet: FakeFleet, name = 'memcloud') {
    this.fleet = fleet
    this.name = name
    this.where = `${name} (in memory)`
    this.#epoch = fleet.faults.credentialEpoch
  }

  isId(text: string): boolean {
    return /^i-[0-9a-f]{8,17}$/.test(text)
  }

  #admit(action: string): void {
    const verdict = this.fleet.faults.admit(action)
    if (verdict.throttle) throw new MemoryCloudError('throttled', verdict.retryAfterMs)
    if (this.fleet.faults.credentialEpoch > this.#epoch) throw new MemoryCloudError('expired')
  }

  #record(instance: FakeInstance): MemoryRecord {
    return {
      id: instance.id,
      name: instance.tags.get('Name') ?? '',
      state: this.fleet.stateOf(instance),
      image: instance.image,
      type: instance.type,
      zone: instance.zone,
      tags: Object.fromEntries(instance.tags),
      privateIp: instance.privateIp,
      publicIp: instance.publicIp,
      created: new Date(instance.createdAt).toISOString(),
      token: instance.token,
    }
  }

  async list(request: PageRequest): Promise<Page<MemoryRecord>> {
    this.#admit('list')
    const all = this.fleet.list()
    const offset = request.cursor === undefined ? 0 : Number(request.cursor)
    const size = this.fleet.faults.pageOf(request.pageSize)
    const items = all.slice(offset, offset + size).map((i) => this.#record(i))
    return { items, next: offset + size < all.length ? String(offset + size) : undefined }
  }

  async get(id: string): Promise<MemoryRecord | undefined> {
    this.#admit('get')
    const instance = this.fleet.get(id)
    return instance && this.#record(instance)
  }

  async findByName(name: string): Promise<MemoryRecord[]> {
    this.#admit('find')
    return this.fleet
      .list()
      .filter((i) => i.tags.get('Name') === name)
      .map((i) => this.#record(i))
  }

  async create(spec: SpawnSpec, options: CallOptions & { token: string }): Promise<MemoryRecord> {
    this.#admit('create')
    if (!spec.image) throw new InvalidArgumentError(`[adapter-${this.name}] Spawn needs --image=IMAGE`)
    const { instance } = this.fleet.create({
      name: spec.name,
      image: spec.image,
      type: spec.type ?? 'small',
      zone: spec.zone,
      tags: spec.tags,
      userData: spec.userData,
      token: options.token,
      fingerprint: JSON.stringify([spec.name, spec.image, spec.type, spec.zone, spec.tags]),
    })
    if (spec.extra.has('fail-boot')) instance.phase = { state: 'terminated', since: this.fleet.now() }
    return this.#record(instance)
  }

  async start(id: string): Promise<void> {
    this.#admit('start')
    this.fleet.start(id)
  }

  async stop(id: string, options: { force: boolean }): Promise<void> {
    this.#admit('stop')
    this.fleet.stop(id, options.force)
  }

  async remove(id: string): Promise<void> {
    this.#admit('remove')
    this.fleet.terminate(id)
  }

  async setTags(id: string, set: Record<string, string>, unset: string[]): Promise<void> {
    this.#admit('tags')
    this.fleet.tag(id, set, unset)
  }

  async console(id: string): Promise<{ text: string }> {
    this.#admit('console')
    return { text: this.fleet.console(id) }
  }

  describe(record: MemoryRecord): CloudDescription {
    const states: Record<string, CloudDescription['state']> = {
      pending: 'pending',
      running: 'running',
      stopping: 'stopping',
      stopped: 'stopped',
      terminating: 'terminating',
      terminated: 'terminated',
    }
    return {
      id: record.id,
      name: record.name,
      state: states[record.state] ?? 'unknown',
      providerState: record.state,
      addresses: { public: [record.publicIp], private: [record.privateIp] },
      image: record.image,
      type: record.type,
      zone: record.zone,
      tags: record.tags,
      created: record.created,
    }
  }

  tokenOf(record: MemoryRecord): string | undefined {
    return record.token
  }

  classify(error: unknown): CloudFault {
    if (error instanceof MemoryCloudError) {
      return error.kind === 'throttled'
        ? { kind: 'throttled', message: error.message, code: '429', retryAfterMs: error.retryAfterMs }
        : { kind: 'expired', message: error.message, code: '401' }
    }
    if (error instanceof FakeFleetError) {
      const kind =
        error.reason === 'not-found'
          ? 'not-found'
          : error.reason === 'incorrect-state'
            ? 'conflict'
            : 'invalid'
      return { kind, message: error.message, code: error.reason }
    }
    if (error instanceof InvalidArgumentError) return { kind: 'invalid', message: error.message }
    return { kind: 'other', message: error instanceof Error ? error.message : String(error) }
  }

  async renewCredentials(): Promise<void> {
    this.#epoch = this.fleet.faults.credentialEpoch
  }

  info(): Record<string, unknown> {
    return { instances: this.fleet.size }
  }
}

/**
 * A `memcloud` backend over `fleet` (a fresh one by default): a cloud adapter kept in memory, for
 * tests of code that drives cloud adapters, and the shared piece's own tests.
 *
 * @example
 * const { backend, fleet } = memoryCloud()
 * fleet.faults.transitionMs = 500 // slow state changes
 * const service = await backend.spawn([], context)
 */
export function memoryCloud(fleet = new FakeFleet()): { backend: Backend; fleet: FakeFleet } {
  const backend = cloudBackend<MemoryRecord>({
    name: 'memcloud',
    summary: 'a cloud account kept in memory (for tests)',
    usage: '',
    options: {},
    connect: (parsed, _context, usage) => {
      if (parsed.positional.length > 0)
        throw new InvalidArgumentError(
          `[adapter-memcloud] unexpected argument ${JSON.stringify(parsed.positional[0])}; ${usage}`,
        )
      return new MemoryProvider(fleet)
    },
  })
  return { backend, fleet }
}
