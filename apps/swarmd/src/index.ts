/**
 * @libswarm/swarmd: compose libswarm services from the command line, like a unix pipeline.
 *
 * Most people run the `swarmd` command (see docs/SWARMD.md). This module exposes the same entry
 * point for programs that embed it or test it: {@link main} runs swarmd against the given
 * arguments and streams and resolves with the exit code (0 clean stop, 1 a stage failed, 2 bad usage).
 *
 * @example
 * import { main } from '@libswarm/swarmd'
 *
 * // Prints the installed backends, like `swarmd` alone.
 * const code = await main({
 *   argv: [],
 *   cwd: process.cwd(),
 *   stdin: process.stdin,
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   signals: process,
 * })
 * console.log('exit code', code) // 0
 *
 * @packageDocumentation
 */
export { EXIT, type Io, main, version } from './internal/app.ts'
export { HELP, type LogFormat, type Options, parseOptions, UsageError } from './internal/args.ts'
export { CONFIG_FILE, type Config, loadConfig } from './internal/config.ts'
