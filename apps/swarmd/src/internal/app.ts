import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, parseSpec } from '@libswarm/core'
import { errorMessage, packageHint } from './adapters.ts'
import { HELP, parseOptions, UsageError } from './args.ts'
import { type Catalog, formatListing, loadCatalog } from './catalog.ts'
import { createCliBackend } from './cli.ts'
import { loadConfig } from './config.ts'
import { serve } from './listen.ts'
import { Logger } from './log.ts'
import { type Running, StageError, startPipeline } from './pipeline.ts'
import { Progress } from './progress.ts'
import { createRemoteBackend } from './remote.ts'
import { SCHEMES, type Security, TLS_SCHEMES } from './transports.ts'

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** What swarmd runs against: the process in the binary, fakes in unit tests. */
export interface Io {
  argv: readonly string[]
  cwd: string
  stdin: Readable & { isTTY?: boolean }
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable & { isTTY?: boolean }
  /** Where SIGINT and SIGTERM arrive (the process). */
  signals: Pick<NodeJS.Process, 'on' | 'off'>
  /** Called on a second SIGINT: leave at once. Default: process.exit(130). */
  exitNow?: (code: number) => void
  /** Environment variables (`SWARMD_TOKEN`). Default: process.env. */
  env?: NodeJS.ProcessEnv
}

const selfDir = dirname(fileURLToPath(import.meta.url))

/** swarmd's version, from its package.json. */
export function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return manifest.version
}

/** Runs swarmd. Resolves with the exit code; prints everything itself. Never throws. */
export async function main(io: Io): Promise<number> {
  let options: ReturnType<typeof parseOptions>
  try {
    options = parseOptions(io.argv)
  } catch (error) {
    return usageFailure(io, error)
  }
  if (options.help) {
    io.stdout.write(HELP)
    return EXIT.ok
  }
  if (options.version) {
    io.stdout.write(`swarmd ${version()}\n`)
    return EXIT.ok
  }
  const logger = new Logger(io.stderr, options.logFormat)
  const progress = new Progress(logger, options.quiet)
  try {
    return await run(io, options, logger, progress)
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error, logger)
    logger.error(`unexpected failure: ${errorMessage(error)}`)
    return EXIT.failure
  }
}

function usageFailure(io: Io, error: unknown, logger?: Logger): number {
  const text = `${errorMessage(error)}\nRun "swarmd --help" for usage.`
  if (logger) logger.error(text)
  else io.stderr.write(`swarmd: error: ${text}\n`)
  return EXIT.usage
}

async function run(
  io: Io,
  options: ReturnType<typeof parseOptions>,
  logger: Logger,
  progress: Progress,
): Promise<number> {
  const config = loadConfig(options.config, io.cwd)
  const shutdown = new AbortController()
  let cliEnded = false
  const stopRequested = new Promise<'signal' | 'cli'>((resolve) => {
    shutdown.signal.addEventListener('abort', () => resolve(cliEnded ? 'cli' : 'signal'), { once: true })
  })
  const cli = createCliBackend({
    input: io.stdin,
    output: io.stdout,
    printError: (text) => logger.stage('cli', text, 'error'),
    onEnd: () => {
      cliEnded = true
      shutdown.abort()
    },
    onInterrupt: () => onSigint(),
  })
  const security = readSecurity(options.security, io)
  const remote = createRemoteBackend({ progress, security })

  // Signals: the first SIGINT/SIGTERM stops cleanly, a second SIGINT leaves at once.
  let interrupts = 0
  const onSigint = () => {
    interrupts++
    if (interrupts > 1) {
      logger.warn('second interrupt: exiting now')
      ;(io.exitNow ?? ((code) => process.exit(code)))(130)
      return
    }
    logger.info('interrupted: stopping (interrupt again to exit at once)')
    shutdown.abort()
  }
  const onSigterm = () => {
    logger.info('terminated: stopping')
    shutdown.abort()
  }
  io.signals.on('SIGINT', onSigint)
  io.signals.on('SIGTERM', onSigterm)
  try {
    const catalog = await loadCatalog({
      builtins: [cli.backend, remote.backend],
      searchDirs: [io.cwd, selfDir],
      config,
    })
    reportLoadProblems(catalog, logger, options.stages.length === 0)
    if (options.stages.length === 0) {
      io.stdout.write(formatListing(catalog))
      return EXIT.ok
    }
    const specs = checkSpecs(options.stages, catalog)
    for (const url of options.listen) {
      const scheme = new URL(url).protocol.replace(/:$/, '')
      if (!SCHEMES.includes(scheme)) {
        throw new UsageError(
          `--listen: no transport for "${scheme}://" URLs; use one of ${SCHEMES.map((s) => `${s}://`).join(', ')}`,
        )
      }
      if (TLS_SCHEMES.includes(scheme) && (security.cert === undefined || security.key === undefined)) {
        throw new UsageError(
          `--listen ${url} needs the server's certificate and key: add --tls-cert FILE --tls-key FILE (PEM)`,
        )
      }
    }

    let running: Running
    try {
      running = await startPipeline({ specs, catalog, logger, progress, interrupt: shutdown.signal })
    } catch (error) {
      return reportStageError(error, logger)
    }
    try {
      const listeners = []
      for (const url of options.listen) {
        try {
          listeners.push(
            await progress.run(`listening on ${url}`, () => serve(url, running.head, { logger, security })),
          )
        } catch (error) {
          for (const listener of listeners.reverse()) await listener.close().catch(() => {})
          // A URL its transport refuses (no port, no path) is bad usage; a busy address is not.
          if (isInvalidArgument(error)) throw new UsageError(`--listen ${url}: ${errorMessage(error)}`)
          throw error
        }
      }
      for (const listener of listeners) logger.info(`serving the pipeline on ${listener.url}`)
      // Signal listeners do not keep Node's event loop alive; this does, until swarmd stops.
      const keepAlive = setInterval(() => {}, 1 << 30)
      shutdown.signal.addEventListener('abort', () => clearInterval(keepAlive), { once: true })
      void cli.run().catch((error) => {
        logger.error(`cli: ${errorMessage(error)}`)
        shutdown.abort()
      })
      const outcome = await Promise.race([stopRequested, running.failed])
      cli.close()
      for (const listener of listeners.reverse()) await listener.close().catch(() => {})
      if (outcome !== 'signal' && outcome !== 'cli') {
        shutdown.abort()
        await running.stop()
        return reportStageError(outcome, logger)
      }
      await running.stop()
      return EXIT.ok
    } catch (error) {
      shutdown.abort()
      await running.stop().catch(() => {})
      if (error instanceof UsageError) throw error
      logger.error(errorMessage(error))
      return EXIT.failure
    }
  } finally {
    io.signals.off('SIGINT', onSigint)
    io.signals.off('SIGTERM', onSigterm)
  }
}

/** Reads the certificate files named by the flags; the token defaults to $SWARMD_TOKEN. */
function readSecurity(flags: ReturnType<typeof parseOptions>['security'], io: Io): Security {
  const read = (flag: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined
    try {
      return readFileSync(resolve(io.cwd, file))
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${file} (${errorMessage(error)})`)
    }
  }
  const security: Security = {}
  const cert = read('--tls-cert', flags.cert)
  const key = read('--tls-key', flags.key)
  const ca = read('--tls-ca', flags.ca)
  const token = flags.token ?? ((io.env ?? process.env).SWARMD_TOKEN || undefined)
  if (cert) security.cert = cert
  if (key) security.key = key
  if (ca) security.ca = ca
  if (token) security.token = token
  return security
}

/** What a backend's name may look like (BackendRegistry.register enforces it). */
const BACKEND_NAME = /^[a-z0-9][a-z0-9._-]*$/

/** Checks that every stage names an installed backend; returns the parsed specs. */
function checkSpecs(stages: readonly string[], catalog: Catalog): string[][] {
  return stages.map((stage) => {
    let words: string[]
    try {
      words = parseSpec(stage)
    } catch (error) {
      throw new UsageError(errorMessage(error))
    }
    const name = words[0]
    if (name === undefined) throw new UsageError('a stage spec is empty')
    if (!catalog.backends.has(name)) {
      const failed = catalog.failures.find((f) => f.source.endsWith(`adapter-${name}`))
      if (failed) throw new UsageError(`backend "${name}" could not be loaded: ${failed.message}`)
      const list = '\nRun "swarmd" alone to list the installed backends.'
      // Suggest a package only for a name a backend can have: never echo `$(x)` into a command.
      if (!BACKEND_NAME.test(name) || name.length > 100) {
        const shown = name.length > 100 ? `${name.slice(0, 100)}... (${name.length} characters)` : name
        throw new UsageError(
          `${JSON.stringify(shown)} is not a backend name (lowercase letters, digits, . _ -; at most 100)${list}`,
        )
      }
      const [first, second] = packageHint(name).split(' or ')
      throw new UsageError(
        `backend "${name}" is not installed. Install its adapter: npm install ${first}` +
          (second ? ` (or ${second})` : '') +
          list,
      )
    }
    return words
  })
}

function reportLoadProblems(catalog: Catalog, logger: Logger, listing: boolean): void {
  for (const failure of catalog.failures)
    logger.warn(`adapter ${failure.source} not loaded: ${failure.message}`)
  if (listing) {
    for (const dup of catalog.duplicates) {
      logger.warn(`backend "${dup.name}" from ${dup.source} is hidden by the one from ${dup.kept}`)
    }
  }
}

/** By code, not class: an adapter installed on its own may carry its own copy of core. */
function isInvalidArgument(error: unknown): boolean {
  return (
    error instanceof InvalidArgumentError ||
    (error as { code?: unknown } | undefined)?.code === InvalidArgumentError.code
  )
}

/** Prints a stage's failure; returns 2 for a bad argument (with the usage line), 1 otherwise. */
function reportStageError(error: unknown, logger: Logger): number {
  if (error instanceof StageError) {
    const invalid = isInvalidArgument(error.cause)
    const text = errorMessage(error.cause)
    logger.stage(error.stage, text, 'error')
    if (invalid) {
      if (error.usage && !text.includes(error.usage))
        logger.stage(error.stage, `usage: ${error.usage}`, 'error')
      return EXIT.usage
    }
    return EXIT.failure
  }
  logger.error(errorMessage(error))
  return EXIT.failure
}
