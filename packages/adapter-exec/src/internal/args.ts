import { basename } from 'node:path'
import { InvalidArgumentError } from '@libswarm/core'

/** The backend's usage line. */
export const USAGE = 'exec [--name NAME] [--grace MS] [--cwd DIR] [--libswarm [--ipc]] [--] COMMAND [ARGS...]'

/** What `exec`'s arguments mean. */
export interface ExecArgs {
  /** The command as given (resolved later). */
  command: string
  /** Its arguments. */
  args: string[]
  /** The instance's name. Default: the command's base name. */
  name: string
  /** Milliseconds between SIGTERM and SIGKILL on Stop. Default: 5000. */
  grace: number
  /** Working directory. Default: the current one. */
  cwd?: string
  /** The child speaks libswarm (a session over its stdio, or over Node's IPC channel with `ipc`). */
  libswarm: boolean
  /** With `libswarm`: use Node's IPC channel instead of stdin/stdout. */
  ipc: boolean
}

/**
 * Parses `[--name NAME] [--grace MS] [--cwd DIR] [--libswarm [--ipc]] [--] COMMAND [ARGS...]`.
 * Options end at the first argument that is not one (or after `--`): the rest is the command and
 * its arguments, passed to it unchanged (never through a shell).
 */
export function parseExecArgs(argv: readonly string[]): ExecArgs {
  let name: string | undefined
  let grace = 5000
  let cwd: string | undefined
  let libswarm = false
  let ipc = false
  let i = 0
  const value = (flag: string, inline: string | undefined): string => {
    const v = inline ?? argv[++i]
    if (v === undefined || v === '')
      throw new InvalidArgumentError(`[adapter-exec] ${flag} needs a value; usage: ${USAGE}`)
    return v
  }
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      i++
      break
    }
    if (!arg.startsWith('--')) break
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined
    switch (flag) {
      case '--name':
        name = value(flag, inline)
        break
      case '--grace': {
        const text = value(flag, inline)
        grace = Number(text)
        if (!Number.isFinite(grace) || grace < 0) {
          throw new InvalidArgumentError(
            `[adapter-exec] --grace needs a number of milliseconds (0 or more), got ${JSON.stringify(text)}; usage: ${USAGE}`,
          )
        }
        break
      }
      case '--cwd':
        cwd = value(flag, inline)
        break
      case '--libswarm':
        libswarm = true
        break
      case '--ipc':
        ipc = true
        break
      default:
        throw new InvalidArgumentError(
          `[adapter-exec] unknown option ${JSON.stringify(arg)}; put "--" before a command that starts with "--"; usage: ${USAGE}`,
        )
    }
  }
  const [command, ...args] = argv.slice(i)
  if (command === undefined || command === '') {
    throw new InvalidArgumentError(`[adapter-exec] missing the command to run; usage: ${USAGE}`)
  }
  if (ipc && !libswarm)
    throw new InvalidArgumentError(`[adapter-exec] --ipc goes with --libswarm; usage: ${USAGE}`)
  return { command, args, name: name ?? basename(command), grace, cwd, libswarm, ipc }
}
