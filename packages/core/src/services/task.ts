import type { Receiver, Sender } from '../channel.ts'
import { ChannelClosedError, ConflictError, UnavailableError } from '../errors.ts'
import { pipe } from '../pipe.ts'
import { notImplemented } from './handler.ts'
import { errorText } from './reply.ts'
import { Server } from './server.ts'
import type { Message, Service, ServiceOptions } from './types.ts'
import { WatchHub } from './watch.ts'

/** Where a {@link Task} is in its life. */
export type TaskState = 'created' | 'running' | 'stopping' | 'stopped' | 'done' | 'failed'

/** What a task's function gets. */
export interface TaskContext {
  /** The messages sent to the task while it runs (every verb except Start, Stop, Get and Watch). */
  input: Receiver<Message>
  /** The task's output: the next stage of a pipeline, or `options.out`. */
  out: Service
  /** The args of the Start that started it. */
  args: string[]
  /** Fires on Stop (and when the task is closed). The function should return soon after. */
  signal: AbortSignal
}

/** Options of {@link Task}. */
export interface TaskOptions extends ServiceOptions {
  /** The task's output. Default: {@link notImplemented} (drops messages sent without `ret`). */
  out?: Service
  /** The name its Get and Watch events carry. Default: `task`. */
  name?: string
  /** Input messages buffered before a sender to the task waits. Default: 16. */
  inputHighWaterMark?: number
}

/**
 * A service with an input and an output that runs `run` on Start.
 *
 * - `Start ARGS` runs `run({ input, out, args, signal })` in the background and answers Ack; a second
 *   Start (running or finished) answers ConflictError.
 * - `Stop` fires the signal, closes `input` (a `for await` over it ends), waits for `run` to return,
 *   and answers Ack (also when not running).
 * - `Get` answers `{ name, state, startedAt?, endedAt?, error? }`; `Watch` streams `start`, `stop`,
 *   `done` and `fail` events.
 * - Any other message goes to `input` while the task runs; otherwise it answers UnavailableError.
 *
 * @example
 * const upper = new Task(async ({ input, out }) => {
 *   for await (const message of input) {
 *     if (message.verb === 'Log') await out.send({ verb: 'Log', args: message.args.map((s) => s.toUpperCase()) })
 *   }
 * }, { out: context.out })
 */
export class Task extends Server {
  readonly #run: (context: TaskContext) => unknown
  readonly #out: Service
  readonly #name: string
  readonly #inputHighWaterMark: number
  readonly #hub = new WatchHub()
  #state: TaskState = 'created'
  #error: string | undefined
  #startedAt: string | undefined
  #endedAt: string | undefined
  #controller: AbortController | undefined
  #input: Sender<Message> | undefined
  #done: Promise<void> | undefined

  constructor(run: (context: TaskContext) => unknown, options: TaskOptions = {}) {
    const handlers: ConstructorParameters<typeof Server>[0] = {}
    super(handlers, options)
    this.#run = run
    this.#out = options.out ?? notImplemented
    this.#name = options.name ?? 'task'
    this.#inputHighWaterMark = options.inputHighWaterMark ?? 16
    Object.assign(handlers, {
      onStart: (args: string[]) => this.#start(args),
      onStop: () => this.#stop(),
      onGet: () => this.describe(),
      onWatch: (_args: string[], context: { signal: AbortSignal }) => this.#hub.subscribe(context.signal),
      catchAll: async (message: Message, context: { signal: AbortSignal }) => {
        const input = this.#input
        if (this.#state !== 'running' || !input) {
          throw new UnavailableError(`${this.#name} is not running (state: ${this.#state}): send Start first`)
        }
        try {
          await input.send(message, { signal: context.signal })
        } catch (error) {
          if (error instanceof ChannelClosedError) {
            throw new UnavailableError(`${this.#name} stopped reading its input (state: ${this.#state})`)
          }
          throw error
        }
      },
    })
  }

  /** Where the task is in its life. */
  get state(): TaskState {
    return this.#state
  }

  /** Resolves when `run` has returned (immediately if never started). */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve()
  }

  /** What Get answers. */
  describe(): { name: string; state: TaskState; startedAt?: string; endedAt?: string; error?: string } {
    return {
      name: this.#name,
      state: this.#state,
      ...(this.#startedAt ? { startedAt: this.#startedAt } : {}),
      ...(this.#endedAt ? { endedAt: this.#endedAt } : {}),
      ...(this.#error !== undefined ? { error: this.#error } : {}),
    }
  }

  #start(args: string[]): void {
    if (this.#state !== 'created') {
      throw new ConflictError(`${this.#name} was already started (state: ${this.#state}); a task runs once`)
    }
    const controller = new AbortController()
    const [input, inputSender] = pipe<Message>({ highWaterMark: this.#inputHighWaterMark })
    this.#controller = controller
    this.#input = inputSender
    this.#state = 'running'
    this.#startedAt = new Date().toISOString()
    this.#hub.publish({ type: 'start', name: this.#name, state: 'running' })
    this.#done = (async () => {
      try {
        await this.#run({ input, out: this.#out, args, signal: controller.signal })
        this.#state = controller.signal.aborted ? 'stopped' : 'done'
      } catch (error) {
        if (controller.signal.aborted) this.#state = 'stopped'
        else {
          this.#state = 'failed'
          this.#error = errorText(error)
        }
      } finally {
        input.cancel()
        this.#endedAt = new Date().toISOString()
        const type = this.#state === 'failed' ? 'fail' : this.#state === 'stopped' ? 'stop' : 'done'
        this.#hub.publish({
          type,
          name: this.#name,
          state: this.#state,
          ...(this.#error !== undefined ? { error: this.#error } : {}),
        })
      }
    })()
  }

  async #stop(): Promise<void> {
    if (this.#state === 'running') {
      this.#state = 'stopping'
      this.#controller?.abort(new ChannelClosedError(`${this.#name} was stopped`))
      await this.#input?.close()
    }
    await this.#done
  }

  protected override async onClose(): Promise<void> {
    if (this.#state === 'running') await this.#stop()
    this.#hub.close()
  }
}
