import {
  copy,
  isOwnRunState,
  type Message,
  notImplementedMessage,
  pipe,
  RECEIVER,
  type Receiver,
  receiverIterator,
  replyAndClose,
  type Sender,
  type Service,
  UnavailableError,
} from '@libswarm/core'

/** Where the debug lines go: anything with `write(string)` (a Node Writable, a test's array). */
export interface LineSink {
  write(text: string): unknown
}

/** Options of {@link debugService}. */
export interface DebugOptions {
  /** Where each line is written. Default: `process.stderr`. */
  sink?: LineSink
  /** The prefix of every line; `''` for none. Default: `[debug]`. */
  prefix?: string
  /** Longest printed line; longer ones are cut with `…`. Default: 2000 characters. */
  maxLineLength?: number
  /** Stops forwarding when it fires (the pipeline is shutting down). */
  signal?: AbortSignal
}

/** How a message is printed: verb, JSON args, then what it carries. */
export function describe(message: Message): string {
  const carries: string[] = []
  if (message.ret) carries.push('+ret')
  if (message.att) carries.push('+att')
  let args: string
  try {
    args = JSON.stringify(message.args)
  } catch {
    args = String(message.args)
  }
  return [message.verb, args, ...carries].join(' ')
}

class Printer {
  constructor(
    private readonly sink: LineSink,
    private readonly prefix: string,
    private readonly max: number,
  ) {}

  line(path: string, arrow: string, text: string): void {
    let line = [this.prefix, path, arrow, text].filter((part) => part !== '').join(' ')
    if (line.length > this.max) line = `${line.slice(0, this.max - 1)}…`
    try {
      this.sink.write(`${line}\n`)
    } catch {
      // A broken debug stream must not break the pipeline.
    }
  }
}

/**
 * Wraps `out`: every message sent to the returned service is printed (`->`) and forwarded to `out`
 * unchanged, except that its return channel is replaced by one that prints each reply (`<-`) and
 * passes it back. A reply that carries a service (Attach, Spawn) is wrapped the same way, so what is
 * sent to the child is printed too (under the child's path).
 */
export function debugService(out: Service, options: DebugOptions = {}): Service {
  const printer = new Printer(
    options.sink ?? process.stderr,
    options.prefix ?? '[debug]',
    options.maxLineLength ?? 2000,
  )
  return wrap(out, printer, '', options.signal)
}

function wrap(target: Service, printer: Printer, path: string, signal: AbortSignal | undefined): Service {
  const [input, service] = pipe<Message>({ highWaterMark: 16 })
  void forward(input, target, printer, path, signal)
  return service
}

async function forward(
  input: Receiver<Message>,
  target: Service,
  printer: Printer,
  path: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.addEventListener('abort', () => input.cancel(signal.reason), { once: true })
  try {
    for await (const message of input) {
      printer.line(path, '->', describe(message))
      if (path === '' && isOwnRunState(message)) {
        // A bare Start/Stop addresses this stage, which has no run state of its own: not
        // implemented here, and not passed on, since the next stage gets its own from the pipeline
        // (docs/VERBS.md, "Start and Stop in a pipeline").
        const reply = notImplementedMessage(message.verb)
        printer.line(path, '<-', `${describe(reply)} (reply to ${message.verb})`)
        await replyAndClose(message.ret, reply).catch(() => {})
        continue
      }
      const forwarded: Message = { ...message }
      if (message.ret) forwarded.ret = tapReplies(message.ret, printer, path, message, signal)
      try {
        await target.send(forwarded, { signal })
      } catch (error) {
        const reason = new UnavailableError(
          `[adapter-debug] could not forward ${message.verb}: the next stage is gone`,
          { cause: error },
        )
        printer.line(path, '!!', reason.message)
        await forwarded.ret?.send({ verb: 'Error', args: [reason.message, reason.code] }).catch(() => {})
        await forwarded.ret?.close().catch(() => {})
      }
    }
  } catch {
    // The input was aborted: nothing more to forward.
  }
}

/** A return channel that prints what comes back before passing it to `ret`. */
function tapReplies(
  ret: Sender<Message>,
  printer: Printer,
  path: string,
  request: Message,
  signal: AbortSignal | undefined,
): Sender<Message> {
  const [replies, tapped] = pipe<Message>({ highWaterMark: 16 })
  const childPath = () => {
    if (request.verb === 'Attach') return join(path, request.args[0] || '.')
    if (request.verb === 'Spawn') return join(path, `spawn(${request.args.join(' ')})`)
    return join(path, `${request.verb.toLowerCase()}-ret`)
  }
  const printed: Receiver<Message> = {
    [RECEIVER]: true,
    receive: async (options) => {
      const reply = await replies.receive(options)
      printer.line(path, '<-', `${describe(reply)} (reply to ${request.verb})`)
      if (!reply.ret) return reply
      return { ...reply, ret: wrap(reply.ret, printer, childPath(), signal) }
    },
    cancel: (reason) => replies.cancel(reason),
    [Symbol.asyncDispose]: async () => replies.cancel(),
    [Symbol.asyncIterator]: () => receiverIterator(printed),
  }
  copy(ret, printed).catch(() => {
    // The caller went away or the service aborted the reply channel: copy already passed it on.
  })
  return tapped
}

function join(path: string, name: string): string {
  return path ? `${path}/${name}` : name
}
