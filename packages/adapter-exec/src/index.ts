/**
 * @libswarm/adapter-exec: local commands as libswarm services (fork-exec).
 *
 * A plain command: Start runs it (an argv array, never a shell, in its own process group), Stop
 * sends SIGTERM then SIGKILL after a grace period, its stdout/stderr lines go to the next stage as
 * `Log` messages, Get reports pid, state and exit code, Watch streams `start`/`stop` events and
 * Connect gives its stdio as a byte stream. A crash is reported as an `Error` message.
 *
 * @example
 * import { Client, type Message, pipe } from '@libswarm/core'
 * import { execService } from '@libswarm/adapter-exec'
 *
 * const [logs, out] = pipe<Message>()
 * const { service } = execService({ command: 'echo', args: ['hello'], out })
 * const echo = new Client(service)
 * await echo.start()
 * console.log((await logs.receive()).args) // ['hello']
 * console.log((await echo.get()).state) // 'running' or 'exited'
 *
 * @packageDocumentation
 */
export { type ExecArgs, parseExecArgs, USAGE } from './internal/args.ts'
export { resolveCommand } from './internal/command.ts'
export { Proc, type ProcInfo, type ProcOptions, type ProcState } from './internal/proc.ts'
export { backend, type ExecInstance, type ExecOptions, execService } from './internal/service.ts'
export {
  MODE_ENV,
  type ParentConnection,
  serveParent,
  spawnWorker,
  type Worker,
  type WorkerOptions,
} from './internal/worker.ts'
