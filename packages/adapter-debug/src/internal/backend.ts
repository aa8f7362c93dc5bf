import { closeSync, createWriteStream, openSync } from 'node:fs'
import { type Backend, type BackendContext, InvalidArgumentError, type Service } from '@libswarm/core'
import { debugService, type LineSink } from './tap.ts'

const USAGE = 'debug [--out FILE|-] [--prefix TEXT]'

/** What `debug`'s arguments mean. */
export interface DebugArgs {
  /** `undefined`: the host's log (swarmd's stderr, in its format), else stderr; `-`: stdout; otherwise a file, appended to. */
  out?: string
  prefix?: string
}

/** Parses `[--out FILE|-] [--prefix TEXT]` (also `--out=FILE`). */
export function parseDebugArgs(args: readonly string[]): DebugArgs {
  const parsed: DebugArgs = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? splitOnce(arg) : [arg, undefined]
    if (flag !== '--out' && flag !== '--prefix') {
      throw new InvalidArgumentError(
        `[adapter-debug] unknown argument ${JSON.stringify(arg)}; usage: ${USAGE}`,
      )
    }
    const value = inline ?? args[++i]
    if (value === undefined || value === '') {
      throw new InvalidArgumentError(`[adapter-debug] ${flag} needs a value; usage: ${USAGE}`)
    }
    if (flag === '--out') parsed.out = value
    else parsed.prefix = value
  }
  return parsed
}

function splitOnce(arg: string): [string, string] {
  const eq = arg.indexOf('=')
  return [arg.slice(0, eq), arg.slice(eq + 1)]
}

function openSink(out: string | undefined, context: BackendContext): LineSink {
  const { signal } = context
  if (out === undefined) {
    if (!context.logged) return process.stderr
    // One log line per printed line, without its newline: the host adds its own framing.
    return { write: (text: string) => context.log(text.replace(/\n$/, '')) }
  }
  if (out === '-') return process.stdout
  let fd: number
  try {
    fd = openSync(out, 'a')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InvalidArgumentError(
      `[adapter-debug] cannot open --out file ${JSON.stringify(out)} for appending (${code ?? String(error)}); check that its directory exists and is writable`,
      { cause: error },
    )
  }
  let stream: ReturnType<typeof createWriteStream>
  try {
    stream = createWriteStream('', { fd, autoClose: true })
  } catch (error) {
    closeSync(fd)
    throw error
  }
  let failed = false
  stream.on('error', (error) => {
    if (failed) return
    failed = true
    process.stderr.write(`[adapter-debug] writing to ${out} failed: ${error.message}; debug lines are lost\n`)
  })
  signal.addEventListener('abort', () => stream.end(), { once: true })
  return { write: (text: string) => !failed && stream.write(text) }
}

/**
 * The `debug` backend: a pipeline stage that prints every message passing through it, and every
 * reply coming back, then forwards it unchanged to the next stage.
 */
export const backend: Backend = {
  name: 'debug',
  summary: 'print every message passing through (and its replies), then forward it unchanged',
  usage: USAGE,
  capabilities: { verbs: [] },
  spawn(args: string[], context: BackendContext): Service {
    const { out, prefix } = parseDebugArgs(args)
    const sink = openSink(out, context)
    // The host's log already names the stage (`[debug] ...`): no prefix of our own unless asked.
    const toLog = out === undefined && context.logged === true
    return debugService(context.out, {
      sink,
      prefix: prefix ?? (toLog ? '' : undefined),
      signal: context.signal,
    })
  },
}
