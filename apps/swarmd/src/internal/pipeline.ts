import type { Service } from '@libswarm/core'
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
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** A started pipeline. */
export interface Running {
  /** The first stage's service: what --listen serves. */
  head: Service
  /** Resolves with the first stage failure while running. Never rejects. */
  failed: Promise<StageError>
  /** Stops every stage, last first. Never rejects. */
  stop(): Promise<void>
}

export interface PipelineOptions {
  specs: string[][]
  catalog: Catalog
  logger: Logger
  progress: Progress
  signal: AbortSignal
}

/** Spawns every stage (last first) with core's Pipeline, starts them, and reports their logs and failures. */
export async function startPipeline(_options: PipelineOptions): Promise<Running> {
  throw new Error('pipelines need core Pipeline (not landed yet)')
}
