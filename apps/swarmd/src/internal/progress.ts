import type { Logger } from './log.ts'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/** One long operation being shown. */
export interface Task {
  /** Changes the text shown for it. */
  update(text: string): void
  /** It finished; `text` replaces the shown one. */
  done(text?: string): void
  /** It failed; the caller prints the error. */
  fail(text?: string): void
}

/**
 * Shows long operations (loading adapters, spawning and starting stages, dialing a remote, stopping):
 * a spinner on stderr when stderr is a terminal and the format is text, plain lines otherwise
 * (`swarmd: spawning debug...` then `swarmd: spawning debug: done (12 ms)`), JSON objects with
 * `--log-format json`. Quiet mode prints nothing.
 */
export class Progress {
  private current: { text: string; frame: number } | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly spin: boolean

  constructor(
    private readonly logger: Logger,
    private readonly quiet = false,
  ) {
    this.spin = !quiet && logger.format === 'text' && logger.sink.isTTY === true
    if (this.spin) {
      logger.beforeWrite = () => this.clear()
      logger.afterWrite = () => this.draw()
    }
  }

  /** Runs `work` while showing `text`; prints the outcome; rethrows its error. */
  async run<T>(text: string, work: (task: Task) => Promise<T>): Promise<T> {
    const task = this.start(text)
    try {
      const result = await work(task)
      task.done()
      return result
    } catch (error) {
      task.fail()
      throw error
    }
  }

  /** Begins showing an operation. */
  start(text: string): Task {
    const started = Date.now()
    let shown = text
    let finished = false
    const elapsed = () => `${Date.now() - started} ms`
    if (this.spin) {
      this.current = { text, frame: 0 }
      this.draw()
      this.timer ??= setInterval(() => {
        if (!this.current) return
        this.current.frame = (this.current.frame + 1) % FRAMES.length
        this.draw()
      }, 80)
      this.timer.unref()
    } else if (!this.quiet) {
      this.logger.emit(
        'info',
        `${text}...`,
        undefined,
        this.logger.format === 'json' ? { progress: 'start' } : undefined,
      )
    }
    const finish = (ok: boolean, final?: string) => {
      if (finished) return
      finished = true
      if (final) shown = final
      if (this.spin) {
        this.stopSpinner()
        this.logger.sink.write(`${ok ? '✔' : '✖'} ${shown} (${elapsed()})\n`)
      } else if (!this.quiet) {
        const outcome = ok ? 'done' : 'failed'
        this.logger.emit(
          ok ? 'info' : 'error',
          `${shown}: ${outcome} (${elapsed()})`,
          undefined,
          this.logger.format === 'json' ? { progress: outcome, ms: Date.now() - started } : undefined,
        )
      }
    }
    return {
      update: (next) => {
        shown = next
        if (this.spin && this.current) {
          this.current.text = next
          this.draw()
        }
      },
      done: (final) => finish(true, final),
      fail: (final) => finish(false, final),
    }
  }

  private stopSpinner(): void {
    this.clear()
    this.current = undefined
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private clear(): void {
    if (this.current) this.logger.sink.write('\r\x1b[2K')
  }

  private draw(): void {
    if (this.current) this.logger.sink.write(`\r\x1b[2K${FRAMES[this.current.frame]} ${this.current.text}`)
  }
}
