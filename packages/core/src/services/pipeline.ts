import { ConflictError, InvalidArgumentError, NotFoundError, NotImplementedError } from '../errors.ts'
import { type CallOptions, Client } from './client.ts'
import { notImplemented } from './handler.ts'
import { type BackendRegistry, parseSpec } from './registry.ts'
import type { Service } from './types.ts'

/** Options of {@link pipeline}. */
export interface PipelineOptions {
  /** Where the backends come from. */
  registry: BackendRegistry
  /** Where the last stage's output goes. Default: {@link notImplemented}. */
  out?: Service
  /** Aborting it fires every stage's `context.signal` (as {@link Pipeline.close} does). */
  signal?: AbortSignal
  /** Receives each stage's `context.log(line)` with the stage name. Default: dropped. */
  log?: (stage: string, line: string) => void
  /** Timeout of each Start and Stop call, in ms. Default: the Client default (30 s). */
  timeout?: number
}

/** One stage of a {@link Pipeline}. */
export interface PipelineStage {
  /** The backend name; a repeated backend gets `name#2`, `name#3`, ... */
  readonly name: string
  /** The spec, split into words (backend name first). */
  readonly spec: readonly string[]
  /** The instance. */
  readonly service: Service
}

/**
 * Instances chained like a unix pipeline: each stage's `context.out` is the next stage, the last
 * stage's is `options.out`. Send requests to {@link Pipeline.head}.
 */
export class Pipeline implements AsyncDisposable {
  /** The stages, first to last. */
  readonly stages: readonly PipelineStage[]
  readonly #controller: AbortController
  readonly #timeout: number | undefined
  #closed = false

  /** @internal Use {@link pipeline}. */
  constructor(stages: PipelineStage[], controller: AbortController, timeout?: number) {
    this.stages = stages
    this.#controller = controller
    this.#timeout = timeout
  }

  /** The first stage: where requests to the pipeline go. */
  get head(): Service {
    return this.stages[0]!.service
  }

  /** The stage named `name` (see {@link PipelineStage.name}); NotFoundError if none. */
  stage(name: string): Service {
    const found = this.stages.find((stage) => stage.name === name)
    if (!found) {
      throw new NotFoundError(
        `no stage named "${name}" (stages: ${this.stages.map((stage) => stage.name).join(', ')})`,
      )
    }
    return found.service
  }

  /**
   * Sends a bare `Start` to every stage, first to last: each stage gets exactly one, because a stage
   * that forwards what it does not handle answers a bare Start/Stop itself rather than passing it on
   * (docs/VERBS.md, "Start and Stop in a pipeline"). A stage answering NotImplemented (nothing to
   * start) or Conflict (it was already running) counts as started. On any other failure the stages
   * already started are stopped and the error is rethrown.
   */
  async start(options: CallOptions = {}): Promise<void> {
    const started: PipelineStage[] = []
    for (const stage of this.stages) {
      try {
        await this.#client(stage).start([], options)
      } catch (error) {
        if (!(error instanceof NotImplementedError) && !(error instanceof ConflictError)) {
          await this.#stopAll(started.reverse(), options).catch(() => {})
          throw error
        }
      }
      started.push(stage)
    }
  }

  /**
   * Sends a bare `Stop` to every stage, last to first (the reverse of start), one each.
   * NotImplemented answers are fine; every stage is tried, then the first other failure is thrown.
   */
  stop(options: CallOptions = {}): Promise<void> {
    return this.#stopAll([...this.stages].reverse(), options)
  }

  /** Stops every stage, fires their `context.signal`, and closes them. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.stop({ timeout: this.#timeout ?? 5_000 }).catch(() => {})
    this.#controller.abort()
    await Promise.allSettled(this.stages.map((stage) => stage.service.close()))
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #stopAll(stages: PipelineStage[], options: CallOptions): Promise<void> {
    let first: unknown
    for (const stage of stages) {
      try {
        await this.#client(stage).stop([], options)
      } catch (error) {
        if (!(error instanceof NotImplementedError) && first === undefined) first = error
      }
    }
    if (first !== undefined) throw first
  }

  #client(stage: PipelineStage): Client {
    return new Client(stage.service, this.#timeout === undefined ? {} : { timeout: this.#timeout })
  }
}

/**
 * Spawns `specs` (each a command line or its words) from the LAST to the FIRST, so that each stage's
 * `context.out` is the next stage's instance, like `a | b | c`. Does not start them: call
 * {@link Pipeline.start}. If a spawn fails, the stages already spawned are closed and the error is
 * rethrown (InvalidArgumentError with the backend's usage for bad args, NotFoundError for an
 * unknown backend).
 *
 * @example
 * await using chain = await pipeline(['debug', 'simulator'], { registry })
 * await chain.start()
 * await new Client(chain.head).ls()
 */
export async function pipeline(
  specs: readonly (string | readonly string[])[],
  options: PipelineOptions,
): Promise<Pipeline> {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new InvalidArgumentError('a pipeline needs at least one spec, e.g. ["simulator"]')
  }
  const words = specs.map((spec) => (typeof spec === 'string' ? parseSpec(spec) : [...spec]))
  for (const [index, spec] of words.entries()) {
    if (spec.length === 0) throw new InvalidArgumentError(`pipeline stage ${index + 1} is an empty spec`)
  }
  const names = stageNames(words.map((spec) => spec[0]!))
  const controller = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
  const stages: PipelineStage[] = []
  let out = options.out ?? notImplemented
  try {
    for (let index = words.length - 1; index >= 0; index--) {
      const name = names[index]!
      const service = await options.registry.spawn(words[index]!, {
        out,
        signal,
        log: (line) => options.log?.(name, line),
        logged: options.log !== undefined,
      })
      stages.unshift({ name, spec: words[index]!, service })
      out = service
    }
  } catch (error) {
    controller.abort()
    await Promise.allSettled(stages.map((stage) => stage.service.close()))
    throw error
  }
  return new Pipeline(stages, controller, options.timeout)
}

function stageNames(backends: string[]): string[] {
  const seen = new Map<string, number>()
  return backends.map((name) => {
    const count = (seen.get(name) ?? 0) + 1
    seen.set(name, count)
    return count === 1 ? name : `${name}#${count}`
  })
}
