/**
 * The tree of verbs every cloud adapter answers, over a {@link CloudProvider}: the account (Ls,
 * Attach, Spawn, Get, Watch, and Start/Stop/Set/Get of named instances) and one service per instance
 * (Get, Start, Stop, Set, Watch). docs/VERBS.md is the contract; the README of @libswarm/cloud lists
 * the flags.
 */
import { randomUUID } from 'node:crypto'
import {
  ConflictError,
  InvalidArgumentError,
  type Message,
  NotFoundError,
  NotImplementedError,
  RemoteError,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'
import {
  type FlagKind,
  isPlausibleName,
  numberFlag,
  type ParsedFlags,
  parseFlags,
  parseTime,
  splitPair,
} from './args.ts'
import { ConsoleLines } from './console.ts'
import { clampPageSize, paginate } from './paging.ts'
import { CloudCaller, NotYetVisibleError, type RequestPolicyOptions, sleep } from './policy.ts'
import {
  type CallOptions,
  type CloudDescription,
  type CloudInstance,
  type CloudProvider,
  type CloudState,
  GONE_STATES,
  type SpawnSpec,
  TRANSITIONAL_STATES,
} from './types.ts'
import { waitForState } from './wait.ts'
import { InstanceWatch } from './watch.ts'

/** Options of {@link cloudService}. */
export interface CloudServiceOptions extends RequestPolicyOptions {
  /** Items asked per page when listing. Default: the provider's `maxPageSize`. */
  pageSize?: number
  /** How long Spawn, Start and Stop wait for the state they ask for, in ms. Default: 600 000. */
  waitTimeoutMs?: number
  /** The longest pause between two state reads while waiting, in ms (the first is 1 s or this, whichever is less). Default: 15 000. */
  waitIntervalMs?: number
  /** Time between two listings of the Watch poller, in ms. Default: 10 000. */
  watchIntervalMs?: number
  /** Requests the Watch poller may make per minute. Default: 60. */
  watchBudgetPerMinute?: number
  /** Fires when the service must stop: watchers end, waits are abandoned, the provider is closed. */
  signal?: AbortSignal
  /** Logs a line: progress of slow state changes, retries, renewals. Default: ignored. */
  log?: (line: string) => void
  /** Where verbs the account does not answer go (a pipeline's next stage). Default: answered "not implemented". */
  fallback?: Service
}

/** The usage of the flags every cloud backend takes (besides its own). */
export const COMMON_USAGE =
  '[--page-size=N] [--wait-timeout=S] [--wait-interval=S] [--watch-interval=S] [--watch-budget=N] [--retries=N] [--retry-budget=S] [--retry-delay=S] [--consistency=S]'

/** The flags of {@link COMMON_USAGE}: name -> kind. */
export const COMMON_FLAGS: Readonly<Record<string, FlagKind>> = {
  'page-size': 'value',
  'wait-timeout': 'value',
  'wait-interval': 'value',
  'watch-interval': 'value',
  'watch-budget': 'value',
  retries: 'value',
  'retry-budget': 'value',
  'retry-delay': 'value',
  consistency: 'value',
}

/** Reads the {@link COMMON_FLAGS} of a parsed spec into service options. */
export function commonOptions(parsed: ParsedFlags, usage: string, tag: string): CloudServiceOptions {
  const seconds = (name: string, fallback: number, min = 0) =>
    numberFlag(parsed, name, fallback / 1000, usage, tag, { min }) * 1000
  return {
    pageSize: parsed.values.has('page-size')
      ? numberFlag(parsed, 'page-size', 0, usage, tag, { min: 1, integer: true })
      : undefined,
    waitTimeoutMs: seconds('wait-timeout', 600_000),
    waitIntervalMs: seconds('wait-interval', 15_000, 0.001),
    watchIntervalMs: seconds('watch-interval', 10_000, 0.001),
    watchBudgetPerMinute: numberFlag(parsed, 'watch-budget', 60, usage, tag, { min: 1 }),
    retries: numberFlag(parsed, 'retries', 8, usage, tag, { integer: true }),
    retryBudgetMs: seconds('retry-budget', 60_000),
    retryDelayMs: seconds('retry-delay', 500, 0.001),
    consistencyMs: seconds('consistency', 30_000),
  }
}

const LS_USAGE = 'expected Ls [--long [--full]] [--all]'
const ATTACH_USAGE = 'expected Attach NAME [--logs | --follow] [--tail=N]'
const START_USAGE = 'expected Start [--no-wait]'
const STOP_USAGE = 'expected Stop [--time=SECONDS] [--rm [--force]] [--no-wait]'
const SET_USAGE = 'expected Set KEY=VALUE... [--delete=KEY]...'
const WATCH_USAGE = 'expected Watch [--until=TIME] (TIME: Unix seconds or RFC 3339)'

/** A record with its description. */
interface Entry<R> {
  record: R
  description: CloudDescription
}

/**
 * The service of one cloud account over `provider`: what every cloud adapter's backend returns.
 *
 * @example
 * const service = cloudService(myProvider, { log: console.error })
 * const client = new Client(service)
 * console.log(await client.ls())
 */
export function cloudService<R>(provider: CloudProvider<R>, options: CloudServiceOptions = {}): Service {
  return new CloudHost(provider, options).root
}

/** One account: the root service, the instance services, and what they share. */
export class CloudHost<R> {
  readonly provider: CloudProvider<R>
  readonly caller: CloudCaller
  readonly watch: InstanceWatch
  readonly root: Server
  readonly tag: string
  readonly #signal: AbortSignal
  readonly #log: (line: string) => void
  readonly #pageSize: number
  readonly #waitTimeoutMs: number
  readonly #waitIntervalMs: number
  readonly #watchIntervalMs: number
  readonly #watchBudget: number
  /** What this service created, for read-your-writes in Ls while the provider catches up. */
  readonly #recent = new Map<string, Entry<R>>()

  constructor(provider: CloudProvider<R>, options: CloudServiceOptions) {
    this.provider = provider
    this.tag = `adapter-${provider.name}`
    this.#signal = options.signal ?? new AbortController().signal
    this.#log = options.log ?? (() => {})
    this.caller = new CloudCaller(provider as CloudProvider<unknown>, {
      ...options,
      log: this.#log,
    })
    this.#pageSize = clampPageSize(provider as CloudProvider<unknown>, options.pageSize)
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 600_000
    this.#waitIntervalMs = options.waitIntervalMs ?? 15_000
    this.#watchIntervalMs = options.watchIntervalMs ?? 10_000
    this.#watchBudget = options.watchBudgetPerMinute ?? 60
    this.watch = new InstanceWatch({
      intervalMs: this.#watchIntervalMs,
      budgetPerMinute: this.#watchBudget,
      list: async (signal) => {
        const before = this.caller.stats.watchRequests
        const entries = await this.listAll(signal, true, false)
        return {
          descriptions: entries.map((e) => e.description),
          requests: this.caller.stats.watchRequests - before,
        }
      },
      recentlyCreated: (id) => this.caller.recentlyCreated(id),
      rateLimit: () => this.caller.rateLimit,
      log: (line) => this.#log(`[${this.tag}] ${line}`),
      nameOf: (d) => d.name || d.id,
      signal: this.#signal,
    })
    this.root = this.#rootService(options.fallback)
    this.#signal.addEventListener(
      'abort',
      () => {
        void this.root.close()
        void Promise.resolve(provider.close?.()).catch(() => {})
      },
      { once: true },
    )
  }

  /** The provider's description of a record, or a RemoteError naming the record when it cannot be read. */
  describe(record: R): CloudDescription {
    try {
      return this.provider.describe(record)
    } catch (error) {
      throw new RemoteError(
        `[${this.tag}] ${this.provider.where} answered an instance record that cannot be read (${(error as Error).message})`,
        { cause: error },
      )
    }
  }

  /** The `Get` shape of an entry; `record` included when `full`. */
  instanceOf(entry: Entry<R>, full: boolean): CloudInstance {
    const d = entry.description
    const shape: CloudInstance = {
      name: d.name || d.id,
      id: d.id,
      state: d.state,
      providerState: d.providerState,
      addresses: d.addresses,
      image: d.image,
      type: d.type,
      zone: d.zone,
      tags: d.tags,
      created: d.created,
      provider: this.provider.name,
    }
    if (full) shape.record = entry.record
    return shape
  }

  /**
   * Every instance, following every page (gone ones included when the provider lists them). Without
   * `keepRecords` only the descriptions are kept (the records are dropped page by page).
   */
  async listAll(signal: AbortSignal, watch = false, keepRecords = true): Promise<Entry<R>[]> {
    const entries: Entry<R>[] = []
    const listed = new Set<string>()
    for await (const page of paginate(this.caller, this.provider, {
      pageSize: this.#pageSize,
      signal,
      watch,
      what: watch ? 'Watch' : 'Ls',
    })) {
      for (const record of page) {
        const description = this.describe(record)
        if (listed.has(description.id)) continue // a record that moved between pages
        listed.add(description.id)
        entries.push({ record: keepRecords ? record : (undefined as R), description })
      }
    }
    // Read your writes: what this service created and the provider does not list yet.
    for (const [id, entry] of this.#recent) {
      if (!this.caller.recentlyCreated(id)) this.#recent.delete(id)
      else if (!listed.has(id)) entries.push(entry)
    }
    return entries
  }

  /** One instance by id (undefined when there is none), retried while it may still appear. */
  async read(id: string, signal: AbortSignal): Promise<Entry<R> | undefined> {
    const at = Date.now()
    const record = await this.caller.call(
      `Get ${id}`,
      async (call) => {
        const found = await this.provider.get(id, call)
        if (found === undefined && this.caller.recentlyCreated(id)) throw new NotYetVisibleError(id)
        return found
      },
      { signal, id },
    )
    if (record === undefined) {
      this.watch.observeGone(id, at)
      return undefined
    }
    const entry = { record, description: this.describe(record) }
    this.watch.observe(entry.description, at)
    return entry
  }

  /** Like {@link read}, but a missing or gone instance is a NotFoundError. */
  async readLive(id: string, label: string, signal: AbortSignal): Promise<Entry<R>> {
    const entry = await this.read(id, signal)
    if (!entry || GONE_STATES.includes(entry.description.state)) {
      throw new NotFoundError(
        `[${this.tag}] ${label} ${entry ? `was removed (${entry.description.providerState})` : 'does not exist'}; Ls lists the instances`,
      )
    }
    return entry
  }

  /** The instance a name (or id) stands for, or NotFound / Conflict (two instances of that name). */
  async resolve(name: string, signal: AbortSignal): Promise<Entry<R>> {
    if (!isPlausibleName(name)) {
      throw new NotFoundError(
        `[${this.tag}] no instance named ${JSON.stringify(name.slice(0, 80))}; Ls lists the instances`,
      )
    }
    if (this.provider.isId(name)) return this.readLive(name, name, signal)
    const at = Date.now()
    let matches: Entry<R>[]
    if (this.provider.findByName) {
      const found = await this.caller.call(
        `Attach ${name}`,
        (call) => this.provider.findByName!(name, call),
        {
          signal,
        },
      )
      matches = found.map((record) => ({ record, description: this.describe(record) }))
      for (const [, entry] of this.#recent) {
        if (
          entry.description.name === name &&
          !matches.some((m) => m.description.id === entry.description.id)
        )
          matches.push(entry)
      }
    } else {
      matches = (await this.listAll(signal)).filter((e) => e.description.name === name)
    }
    matches = matches.filter((e) => !GONE_STATES.includes(e.description.state))
    for (const m of matches) this.watch.observe(m.description, at)
    if (matches.length === 0)
      throw new NotFoundError(
        `[${this.tag}] no instance named ${JSON.stringify(name)}; Ls lists the instances`,
      )
    if (matches.length > 1) {
      throw new ConflictError(
        `[${this.tag}] ${matches.length} instances are named ${JSON.stringify(name)} (${matches.map((m) => m.description.id).join(', ')}); name one by its id`,
      )
    }
    return matches[0]!
  }

  /** `web (i-0abc)`, or the id alone. */
  label(d: Pick<CloudDescription, 'id' | 'name'>): string {
    return d.name && d.name !== d.id ? `${d.name} (${d.id})` : d.id
  }

  /** Waits for `targets`, logging each state change as progress. */
  async waitFor(entry: Entry<R>, targets: CloudState[], signal: AbortSignal): Promise<Entry<R> | undefined> {
    const label = this.label(entry.description)
    let last = entry.description.state
    let lastLog = Date.now()
    let latest: Entry<R> | undefined = entry
    const goal = targets.join(' or ')
    this.#log(`[${this.tag}] ${label}: ${last}, waiting for ${goal}`)
    const description = await waitForState(
      async (s) => {
        latest = await this.read(entry.description.id, s)
        return latest?.description
      },
      targets,
      {
        signal: AbortSignal.any([signal, this.#signal]),
        timeoutMs: this.#waitTimeoutMs,
        initialDelayMs: Math.min(1000, this.#waitIntervalMs),
        maxDelayMs: this.#waitIntervalMs,
        graceMs: this.caller.consistencyMs,
        what: label,
        tag: this.tag,
        onProgress: (d, elapsed) => {
          if (d.state !== last || Date.now() - lastLog >= 30_000) {
            this.#log(
              `[${this.tag}] ${label}: ${d.state} (${d.providerState}) after ${(elapsed / 1000).toFixed(1)} s`,
            )
            last = d.state
            lastLog = Date.now()
          }
        },
      },
    )
    if (description === undefined) {
      this.#log(`[${this.tag}] ${label}: gone`)
      return undefined
    }
    return latest
  }

  #call<T>(
    what: string,
    fn: (call: CallOptions) => Promise<T>,
    signal: AbortSignal,
    id?: string,
  ): Promise<T> {
    return this.caller.call(what, fn, { signal, id })
  }

  /** Start: wait out a change in progress, start it unless running, wait for running (unless `noWait`). */
  async start(entry: Entry<R>, noWait: boolean, signal: AbortSignal): Promise<void> {
    let current = entry
    const { id } = current.description
    if (TRANSITIONAL_STATES.includes(current.description.state)) {
      current = (await this.waitFor(current, ['running', 'stopped', 'suspended'], signal)) ?? current
    }
    if (current.description.state === 'running') return
    await this.#call(
      `Start ${this.label(current.description)}`,
      (call) => this.provider.start(id, call),
      signal,
      id,
    )
    if (!noWait) await this.waitFor(current, ['running'], signal)
  }

  /** Stop (`force` at once, or after `graceSeconds`), or remove with `rm`. */
  async stop(
    entry: Entry<R>,
    flags: { rm: boolean; force: boolean; time: number | undefined; noWait: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    let current = entry
    const { id } = current.description
    const label = this.label(current.description)
    if (flags.rm) {
      await this.#call(`Stop --rm ${label}`, (call) => this.provider.remove(id, call), signal, id)
      this.caller.forget(id)
      this.#recent.delete(id)
      if (!flags.noWait) await this.waitFor(current, ['terminated'], signal)
      return
    }
    if (current.description.state === 'pending' || current.description.state === 'rebooting') {
      current = (await this.waitFor(current, ['running', 'stopped'], signal)) ?? current
    }
    if (current.description.state === 'stopping' && flags.time !== 0) {
      if (flags.noWait) return
      await this.waitFor(current, ['stopped'], signal)
      return
    }
    if (current.description.state === 'stopped' || current.description.state === 'suspended') return
    const force = flags.time === 0
    await this.#call(`Stop ${label}`, (call) => this.provider.stop(id, { ...call, force }), signal, id)
    if (flags.noWait) return
    if (flags.time === undefined || flags.time === 0) {
      await this.waitFor(current, ['stopped'], signal)
      return
    }
    // --time=S: a graceful stop, then a forced one if it is not stopped after S seconds.
    const grace = AbortSignal.any([signal, AbortSignal.timeout(flags.time * 1000)])
    try {
      await this.waitFor(current, ['stopped'], grace)
      return
    } catch (error) {
      if (signal.aborted || !grace.aborted) throw error
    }
    this.#log(`[${this.tag}] ${label}: not stopped after ${flags.time} s; forcing it off`)
    await this.#call(
      `Stop --force ${label}`,
      (call) => this.provider.stop(id, { ...call, force: true }),
      signal,
      id,
    )
    await this.waitFor(current, ['stopped'], signal)
  }

  /** Set KEY=VALUE... --delete=KEY... */
  async setTags(entry: Entry<R>, args: string[], signal: AbortSignal): Promise<void> {
    const parsed = parseFlags(args, { delete: 'repeat' }, SET_USAGE, this.tag)
    const set: Record<string, string> = {}
    for (const pair of parsed.positional) {
      const [key, value] = splitPair(pair, 'Set', SET_USAGE, this.tag)
      set[key] = value
    }
    const unset = parsed.repeats.get('delete') ?? []
    if (Object.keys(set).length === 0 && unset.length === 0)
      throw new InvalidArgumentError(
        `[${this.tag}] Set needs at least one KEY=VALUE or --delete=KEY; ${SET_USAGE}`,
      )
    const { id } = entry.description
    await this.#call(
      `Set ${this.label(entry.description)}`,
      (call) => this.provider.setTags(id, set, unset, call),
      signal,
      id,
    )
    await this.read(id, signal).catch(() => undefined) // publishes the change to watchers
  }

  /** The console output of an instance as Log messages; with `follow`, new lines until it stops running. */
  async *consoleOutput(
    entry: Entry<R>,
    follow: boolean,
    tail: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<Message> {
    const consoleOf = this.provider.console?.bind(this.provider)
    if (!consoleOf) return
    const { id } = entry.description
    const lines = new ConsoleLines()
    const stop = AbortSignal.any([signal, this.#signal])
    const read = () =>
      this.#call(
        `Attach ${this.label(entry.description)} --logs`,
        (call) => consoleOf(id, lines.cursor, call),
        stop,
        id,
      )
    let first = lines.push(await read())
    if (!follow) first = [...first, ...lines.flush()]
    if (tail !== undefined) first = tail === 0 ? [] : first.slice(-tail)
    if (first.length > 0) yield { verb: 'Log', args: first }
    if (!follow) return
    let state = entry.description.state
    while (!stop.aborted && state === 'running') {
      try {
        await sleep(Math.min(this.#watchIntervalMs, 5000), stop)
      } catch {
        return
      }
      const fresh = lines.push(await read())
      if (fresh.length > 0) yield { verb: 'Log', args: fresh }
      state = (await this.read(id, stop))?.description.state ?? 'terminated'
    }
    const rest = lines.flush()
    if (rest.length > 0) yield { verb: 'Log', args: rest }
  }

  /** Spawn [NAME] --image=IMAGE ... */
  async spawn(args: string[], signal: AbortSignal): Promise<Service> {
    const extra = this.provider.spawnOptions ?? {}
    const usage = `expected Spawn [NAME] --image=IMAGE [--type=TYPE] [--zone=ZONE] [--tag=KEY=VALUE]... [--user-data=TEXT] [--token=TOKEN] [--no-wait]${this.provider.spawnUsage ? ` ${this.provider.spawnUsage}` : ''}`
    const known: Record<string, FlagKind> = {
      image: 'value',
      type: 'value',
      zone: 'value',
      tag: 'repeat',
      'user-data': 'value',
      token: 'value',
      'no-wait': 'flag',
    }
    for (const [flag, takesValue] of Object.entries(extra)) known[flag] = takesValue ? 'value' : 'flag'
    const parsed = parseFlags(args, known, usage, this.tag)
    if (parsed.positional.length > 1)
      throw new InvalidArgumentError(
        `[${this.tag}] Spawn takes one NAME, got ${JSON.stringify(parsed.positional)}; ${usage}`,
      )
    const name = parsed.positional[0] ?? ''
    if (name !== '' && (!isPlausibleName(name) || name.startsWith('-')))
      throw new InvalidArgumentError(
        `[${this.tag}] Spawn: ${JSON.stringify(name.slice(0, 80))} is not a usable name; ${usage}`,
      )
    if (name !== '' && this.provider.isId(name))
      throw new InvalidArgumentError(
        `[${this.tag}] Spawn: ${JSON.stringify(name)} looks like an instance id; pick another name; ${usage}`,
      )
    const tags: Record<string, string> = {}
    for (const pair of parsed.repeats.get('tag') ?? []) {
      const [key, value] = splitPair(pair, '--tag', usage, this.tag)
      tags[key] = value
    }
    const spec: SpawnSpec = {
      name,
      image: parsed.values.get('image'),
      type: parsed.values.get('type'),
      zone: parsed.values.get('zone'),
      tags,
      userData: parsed.values.get('user-data'),
      extra: new Map([...parsed.values].filter(([flag]) => Object.hasOwn(extra, flag))),
    }
    const token = parsed.values.get('token') ?? randomUUID()
    if (name !== '') {
      // A name is taken by a live instance, unless that instance is this very request repeated.
      const same = await this.resolve(name, signal).catch((error: unknown) => {
        if (error instanceof NotFoundError) return undefined
        throw error
      })
      if (same) {
        if (this.provider.tokenOf?.(same.record) === token) return this.instanceService(same.description.id)
        throw new ConflictError(
          `[${this.tag}] an instance named ${JSON.stringify(name)} already exists (${same.description.id}); pick another name or Stop --rm it`,
        )
      }
    }
    const at = Date.now()
    const record = await this.caller.call(
      `Spawn ${name || '(no name)'}`,
      (call) => this.provider.create(spec, { ...call, token }),
      { signal, idempotent: this.provider.idempotentCreate ?? false },
    )
    const entry = { record, description: this.describe(record) }
    const { id } = entry.description
    this.caller.markCreated(id)
    this.#recent.set(id, entry)
    this.watch.observe(entry.description, at)
    this.#log(`[${this.tag}] created ${this.label(entry.description)}: ${entry.description.state}`)
    if (!parsed.values.has('no-wait') && entry.description.state !== 'running') {
      const settled = await this.waitFor(entry, ['running'], signal)
      if (settled) this.#recent.set(id, settled)
    }
    return this.instanceService(id)
  }

  /** The service of one instance (by id). Every call reads the provider: nothing is cached. */
  instanceService(id: string): Service {
    const live = (signal: AbortSignal) => this.readLive(id, id, signal)
    return new Server({
      onGet: async (args, context) => {
        if (args.length > 0)
          throw new InvalidArgumentError(
            `[${this.tag}] Get on an instance takes no arguments, got ${JSON.stringify(args)}`,
          )
        return this.instanceOf(await live(context.signal), true)
      },
      onStart: async (args, context) => {
        const parsed = parseFlags(args, { 'no-wait': 'flag' }, START_USAGE, this.tag)
        if (parsed.positional.length > 0)
          throw new InvalidArgumentError(`[${this.tag}] Start on an instance takes no names; ${START_USAGE}`)
        await this.start(await live(context.signal), parsed.values.has('no-wait'), context.signal)
      },
      onStop: async (args, context) => {
        const { flags, names } = this.#stopFlags(args)
        if (names.length > 0)
          throw new InvalidArgumentError(`[${this.tag}] Stop on an instance takes no names; ${STOP_USAGE}`)
        const entry = await live(context.signal)
        this.#refuseRunningRemoval(entry, flags)
        await this.stop(entry, flags, context.signal)
      },
      onSet: async (args, context) => this.setTags(await live(context.signal), args, context.signal),
      onWatch: async (args, context) => {
        const signal = this.#watchSignal(args, context.signal)
        await live(context.signal)
        return this.watch.subscribe(signal, id)
      },
    })
  }

  #stopFlags(args: string[]): {
    flags: { rm: boolean; force: boolean; time: number | undefined; noWait: boolean }
    names: string[]
  } {
    const parsed = parseFlags(
      args,
      { time: 'value', rm: 'flag', force: 'flag', 'no-wait': 'flag' },
      STOP_USAGE,
      this.tag,
    )
    const rm = parsed.values.has('rm')
    const force = parsed.values.has('force')
    if (force && !rm) throw new InvalidArgumentError(`[${this.tag}] Stop --force needs --rm; ${STOP_USAGE}`)
    const time = parsed.values.has('time') ? numberFlag(parsed, 'time', 0, STOP_USAGE, this.tag) : undefined
    return { flags: { rm, force, time, noWait: parsed.values.has('no-wait') }, names: parsed.positional }
  }

  #refuseRunningRemoval(entry: Entry<R>, flags: { rm: boolean; force: boolean }): void {
    const { state } = entry.description
    if (flags.rm && !flags.force && state !== 'stopped' && state !== 'error' && state !== 'suspended') {
      throw new ConflictError(
        `[${this.tag}] ${this.label(entry.description)} is ${state}: stop it first, or Stop --rm --force to remove it anyway`,
      )
    }
  }

  #watchSignal(args: string[], signal: AbortSignal): AbortSignal {
    const parsed = parseFlags(args, { until: 'value' }, WATCH_USAGE, this.tag)
    if (parsed.positional.length > 0)
      throw new InvalidArgumentError(
        `[${this.tag}] Watch: unexpected ${JSON.stringify(parsed.positional[0])}; ${WATCH_USAGE}`,
      )
    const untilText = parsed.values.get('until')
    if (untilText === undefined) return signal
    const until = parseTime(untilText)
    if (until === undefined)
      throw new InvalidArgumentError(
        `[${this.tag}] Watch: cannot read the time in --until=${untilText}; ${WATCH_USAGE}`,
      )
    return AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, until - Date.now()))])
  }

  /** Ls names: each instance's name, or its id when it has none or shares it with another. */
  lsNames(entries: Entry<R>[]): Map<string, Entry<R>> {
    const count = new Map<string, number>()
    for (const { description: d } of entries) if (d.name) count.set(d.name, (count.get(d.name) ?? 0) + 1)
    const named = new Map<string, Entry<R>>()
    for (const entry of entries) {
      const d = entry.description
      const unique = d.name !== '' && count.get(d.name) === 1 && !this.provider.isId(d.name)
      named.set(unique ? d.name : d.id, entry)
    }
    return named
  }

  #rootService(fallback: Service | undefined): Server {
    return new Server(
      {
        onLs: async (args, context) => {
          const parsed = parseFlags(args, { long: 'flag', full: 'flag', all: 'flag' }, LS_USAGE, this.tag)
          if (parsed.positional.length > 0)
            throw new InvalidArgumentError(
              `[${this.tag}] Ls: unexpected ${JSON.stringify(parsed.positional[0]!.slice(0, 80))}; ${LS_USAGE}`,
            )
          const long = parsed.values.has('long')
          const full = parsed.values.has('full')
          if (full && !long)
            throw new InvalidArgumentError(`[${this.tag}] Ls --full needs --long; ${LS_USAGE}`)
          const at = Date.now()
          let entries = await this.listAll(context.signal, false, full)
          for (const e of entries) this.watch.observe(e.description, at)
          if (!parsed.values.has('all'))
            entries = entries.filter((e) => !GONE_STATES.includes(e.description.state))
          const named = this.lsNames(entries)
          if (!long) return named.keys()
          return [...named].map(([name, entry]) => JSON.stringify({ ...this.instanceOf(entry, full), name }))
        },
        onAttach: async (args, context) => {
          const parsed = parseFlags(
            args,
            { logs: 'flag', follow: 'flag', tail: 'value' },
            ATTACH_USAGE,
            this.tag,
          )
          const [name, ...more] = parsed.positional
          if (name === undefined || name === '') return this.root
          if (more.length > 0)
            throw new InvalidArgumentError(
              `[${this.tag}] Attach takes one NAME, got ${more.length + 1}; ${ATTACH_USAGE}`,
            )
          const logs = parsed.values.has('logs')
          const follow = parsed.values.has('follow')
          const tailText = parsed.values.get('tail')
          if (logs && follow)
            throw new InvalidArgumentError(
              `[${this.tag}] Attach: --logs and --follow together; ${ATTACH_USAGE}`,
            )
          if (tailText !== undefined && !(logs || follow))
            throw new InvalidArgumentError(
              `[${this.tag}] Attach: --tail needs --logs or --follow; ${ATTACH_USAGE}`,
            )
          const tail =
            tailText === undefined
              ? undefined
              : numberFlag(parsed, 'tail', 0, ATTACH_USAGE, this.tag, { integer: true })
          const entry = await this.resolve(name, context.signal)
          const instance = this.instanceService(entry.description.id)
          if (!logs && !follow) return instance
          if (!this.provider.console)
            throw new InvalidArgumentError(
              `[${this.tag}] Attach --logs: ${this.provider.where} has no API for an instance's console output`,
            )
          return { instance, output: this.consoleOutput(entry, follow, tail, context.signal) }
        },
        onSpawn: (args, context) => this.spawn(args, context.signal),
        onGet: async (args, context) => {
          if (args.length > 1)
            throw new InvalidArgumentError(
              `[${this.tag}] Get takes one NAME at most: Get (the account) or Get NAME`,
            )
          if (args.length === 1) return this.instanceOf(await this.resolve(args[0]!, context.signal), true)
          return {
            provider: this.provider.name,
            where: this.provider.where,
            ...this.provider.info?.(),
            pageSize: this.#pageSize,
            requests: { ...this.caller.stats },
            watch: {
              watchers: this.watch.watchers,
              polls: this.watch.polls,
              intervalMs: this.#watchIntervalMs,
              budgetPerMinute: this.#watchBudget,
            },
          }
        },
        onStart: async (args, context) => {
          const parsed = parseFlags(args, { 'no-wait': 'flag' }, START_USAGE, this.tag)
          if (parsed.positional.length === 0)
            throw new NotImplementedError(
              `not implemented: Start of the account itself; Start NAME... starts instances (${START_USAGE} NAME...)`,
            )
          const entries = await Promise.all(parsed.positional.map((n) => this.resolve(n, context.signal)))
          for (const entry of entries) await this.start(entry, parsed.values.has('no-wait'), context.signal)
        },
        onStop: async (args, context) => {
          const { flags, names } = this.#stopFlags(args)
          if (names.length === 0) {
            if (flags.rm)
              throw new InvalidArgumentError(
                `[${this.tag}] Stop --rm needs NAME...: the account does not remove itself`,
              )
            throw new NotImplementedError(
              `not implemented: Stop of the account itself; Stop [flags] NAME... stops instances (${STOP_USAGE} NAME...)`,
            )
          }
          const entries = await Promise.all(names.map((n) => this.resolve(n, context.signal)))
          for (const entry of entries) this.#refuseRunningRemoval(entry, flags)
          for (const entry of entries) await this.stop(entry, flags, context.signal)
        },
        onSet: async (args, context) => {
          const [name, ...pairs] = args
          if (name === undefined || name.includes('='))
            throw new InvalidArgumentError(
              `[${this.tag}] Set on the account needs a NAME first: Set NAME KEY=VALUE...`,
            )
          await this.setTags(await this.resolve(name, context.signal), pairs, context.signal)
        },
        onWatch: (args, context) => {
          const signal = this.#watchSignal(args, context.signal)
          return this.watch.subscribe(signal) as Promise<AsyncIterable<WatchEvent>>
        },
      },
      { fallback },
    )
  }
}
