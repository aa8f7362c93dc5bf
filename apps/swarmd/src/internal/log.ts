import type { LogFormat } from './args.ts'

/** A writable text sink (process.stderr in the binary, a buffer in tests). */
export interface TextSink {
  write(text: string): unknown
  isTTY?: boolean
}

/** Severity of one line swarmd prints. */
export type Level = 'info' | 'warn' | 'error'

/**
 * Prints swarmd's own lines and the stages' Log messages on stderr: `[stage] text` lines, or one
 * JSON object per line with `--log-format json`. Anything that draws on the terminal (the progress
 * spinner) registers a `clear` hook so a log line never lands in the middle of it.
 */
export class Logger {
  /** Called before each line is written, to wipe a spinner. */
  beforeWrite: (() => void) | undefined
  /** Called after each line is written, to redraw it. */
  afterWrite: (() => void) | undefined

  constructor(
    readonly sink: TextSink,
    readonly format: LogFormat,
  ) {}

  /** A Log message from a stage. */
  stage(stage: string, text: string, level: Level = 'info'): void {
    this.emit(level, text, stage)
  }

  info(text: string): void {
    this.emit('info', text)
  }

  warn(text: string): void {
    this.emit('warn', text)
  }

  error(text: string): void {
    this.emit('error', text)
  }

  /** Writes one line with extra JSON fields (progress events use these). */
  emit(level: Level, text: string, stage?: string, fields?: Record<string, unknown>): void {
    let line: string
    if (this.format === 'json') {
      line = JSON.stringify({
        time: new Date().toISOString(),
        level,
        ...(stage ? { stage } : {}),
        msg: text,
        ...fields,
      })
    } else {
      const prefix = stage ? `[${stage}]` : 'swarmd:'
      const mark = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : ''
      line = text
        .split('\n')
        .map((part, index) => `${prefix} ${index === 0 ? mark : ''}${part}`)
        .join('\n')
    }
    this.beforeWrite?.()
    this.sink.write(line + '\n')
    this.afterWrite?.()
  }
}
