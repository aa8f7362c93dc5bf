import {
  type Backend,
  BackendRegistry,
  Client,
  ConflictError,
  handler,
  type Message,
  NotImplementedError,
  notImplementedMessage,
  type Pipeline,
  pipeline,
  replyAck,
  SENDER,
  type Service,
} from '@libswarm/core'
import { errorMessage } from './adapters.ts'
import type { Catalog } from './catalog.ts'
import type { Logger } from './log.ts'
import type { Progress } from './progress.ts'

/** A stage that failed: its name (the backend's), its usage line, and the error. */
export class StageError extends Error {
  override readonly name = 'StageError'
  constructor(
    readonly stage: string,
    readonly usage: string,
    override readonly cause: unknown,
  ) {
    super(`${stage}: ${errorMessage(cause)}`, { cause })
  }
}

/** A started pipeline. */
export interface Running {
  /** The first stage's service: what --listen serves. */
  head: Service
  /** Resolves with the first stage failure reported while running. Never rejects. */
  failed: Promise<StageError>
  /** Stops every stage, last first, and closes them. Never rejects. */
  stop(): Promise<void>
}

export interface PipelineOptions {
  specs: string[][]
  catalog: Catalog
  logger: Logger
  progress: Progress
  /** Cancels spawning and starting (a signal arrived). The stages' own signal fires when they are closed. */
  interrupt: AbortSignal
  /** Timeout of each Start and Stop, in ms. Default: 30 000. */
  timeout?: number
}

/**
 * Spawns every stage with core's {@link pipeline} (last first), starts them first to last, and
 * prints their logs. What comes out of the last stage lands in a sink: `Log` lines are printed,
 * an `Error` report is a stage failure, anything else is answered "not implemented".
 * Throws {@link StageError} if a stage cannot be spawned or started.
 */
export async function startPipeline(options: PipelineOptions): Promise<Running> {
  const { specs, catalog, logger, progress } = options
  const timeout = options.timeout ?? 30_000
  // Each backend is wrapped so that its spawn shows progress and a failure names its stage, and so
  // that what a stage sends downstream without expecting an answer (its Log lines, its Error
  // report) carries the stage's name: a middle stage's output passes through the stages after it
  // before it reaches the sink, which must still name the stage it came from.
  let failedStage: { name: string; usage: string } | undefined
  const names = stageNames(specs.map((spec) => spec[0]!))
  // Core's pipeline spawns the stages last to first, each with the previous one as its `out`
  // (the sink for the last). A spawn with another `out`, or one made while a stage is spawning, is
  // a child an adapter spawns itself: it is not a stage.
  let nextStage = specs.length - 1
  let expectedOut: Service | undefined
  let spawning = 0
  const wrapped: Backend[] = [...catalog.backends.values()].map(({ backend }) => ({
    name: backend.name,
    summary: backend.summary,
    usage: backend.usage,
    ...(backend.capabilities ? { capabilities: backend.capabilities } : {}),
    spawn: (args, context) =>
      progress.run(`spawning ${[backend.name, ...args].join(' ')}`, async () => {
        const isStage = spawning === 0 && nextStage >= 0 && context.out === expectedOut
        const stage = isStage ? names[nextStage]! : undefined
        spawning++
        try {
          const service = await backend.spawn(
            args,
            stage === undefined ? context : { ...context, out: tagOutput(context.out, stage) },
          )
          if (isStage) {
            nextStage--
            expectedOut = service
          }
          return service
        } catch (error) {
          failedStage ??= { name: stage ?? backend.name, usage: backend.usage }
          throw error
        } finally {
          spawning--
        }
      }),
  }))
  const registry = new BackendRegistry(wrapped)
  const last = names.at(-1)!
  let reportFailure: (error: StageError) => void = () => {}
  const failed = new Promise<StageError>((resolve) => (reportFailure = resolve))
  const sink = handler(async (message: Message) => {
    const from = origin(message) ?? last
    if (message.verb === 'Log') {
      logger.stage(from, message.args.join(' '))
      await replyAck(message.ret)
    } else if (message.verb === 'Error') {
      reportFailure(new StageError(from, '', new Error(message.args[0] ?? 'failed without a message')))
      await replyAck(message.ret)
    } else if (message.ret) {
      await message.ret.send(notImplementedMessage(message.verb)).catch(() => {})
      await message.ret.close().catch(() => {})
    }
  })

  expectedOut = sink
  let chain: Pipeline
  try {
    chain = await pipeline(specs, {
      registry,
      out: sink,
      timeout,
      log: (stage, line) => logger.stage(stage, line),
    })
  } catch (error) {
    await sink.close().catch(() => {})
    const stage = failedStage ?? { name: specs[0]![0]!, usage: '' }
    throw new StageError(stage.name, stage.usage, error)
  }

  // Start first to last, one stage at a time so progress and failures name the stage. Like
  // Pipeline.start: NotImplemented (nothing to start) and Conflict (already started) are fine.
  for (const stage of chain.stages) {
    try {
      await progress.run(`starting ${stage.name}`, async () => {
        try {
          await new Client(stage.service, { timeout }).start([], { signal: options.interrupt })
        } catch (error) {
          if (!(error instanceof NotImplementedError) && !(error instanceof ConflictError)) throw error
        }
      })
    } catch (error) {
      await progress.run('stopping', () => chain.close()).catch(() => {})
      await sink.close().catch(() => {})
      throw new StageError(stage.name, usageOf(catalog, stage.spec[0]!), error)
    }
  }

  let stopping: Promise<void> | undefined
  return {
    head: chain.head,
    failed,
    stop() {
      stopping ??= (async () => {
        try {
          await progress.run(`stopping ${chain.stages.length} stage(s), last first`, () => chain.close())
        } catch (error) {
          logger.warn(`stopping: ${errorMessage(error)}`)
        }
        await sink.close().catch(() => {})
      })()
      return stopping
    },
  }
}

function usageOf(catalog: Catalog, name: string): string {
  return catalog.backends.get(name)?.backend.usage ?? ''
}

/** Where a stage's Log and Error output says it comes from (a symbol key survives `{ ...message }`). */
const ORIGIN = Symbol('swarmd.stage')

function origin(message: Message): string | undefined {
  const from = (message as Message & { [ORIGIN]?: unknown })[ORIGIN]
  return typeof from === 'string' ? from : undefined
}

/**
 * `out` as stage `stage` sees it: a Log or Error it sends without a return channel (its output, not
 * a request) is marked as coming from it, unless a stage before it already marked it.
 */
function tagOutput(out: Service, stage: string): Service {
  const tagged: Service = {
    [SENDER]: true,
    send: (message, options) => {
      if (
        (message.verb !== 'Log' && message.verb !== 'Error') ||
        message.ret ||
        origin(message) !== undefined
      )
        return out.send(message, options)
      const marked: Message & { [ORIGIN]?: string } = { ...message }
      marked[ORIGIN] = stage
      return out.send(marked, options)
    },
    close: () => out.close(),
    abort: (reason) => out.abort(reason),
    get closed() {
      return out.closed
    },
    [Symbol.asyncDispose]: () => out.close(),
  }
  return tagged
}

/** The stage names core's pipeline gives: the backend's, then `name#2`, `name#3` for repeats. */
function stageNames(backends: string[]): string[] {
  const seen = new Map<string, number>()
  return backends.map((name) => {
    const count = (seen.get(name) ?? 0) + 1
    seen.set(name, count)
    return count === 1 ? name : `${name}#${count}`
  })
}
