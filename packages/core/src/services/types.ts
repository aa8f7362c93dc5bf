/**
 * The service contract. A service is a `Sender<Message>`: you send it a verb with arguments and,
 * usually, a return Sender on which it answers. Because a Message is an ordinary channel message, a
 * remote service is just a `Sender<Message>` on a session, and everything here works across any
 * transport. `docs/VERBS.md` is the exact contract of each verb.
 */
import type { OperationOptions, Receiver, Sender } from '../channel.ts'
import type { Attachment, ByteStream } from '../streams.ts'
import type { PeerInfo } from '../transport.ts'

/** The verbs, in alphabetical order. */
export const VERBS = [
  'Ack',
  'Attach',
  'Connect',
  'Error',
  'File',
  'Get',
  'Log',
  'Ls',
  'Set',
  'Spawn',
  'Start',
  'Stop',
  'Watch',
] as const

/** One of the 13 verbs. */
export type Verb = (typeof VERBS)[number]

/** True if `value` names a verb (case-sensitive). */
export function isVerb(value: unknown): value is Verb {
  return typeof value === 'string' && (VERBS as readonly string[]).includes(value)
}

/** A service message: a verb, its string arguments, and optionally a return channel and a byte stream. */
export interface Message {
  verb: Verb
  args: string[]
  /** Where the answer goes. Requests that expect an answer carry one. */
  ret?: Sender<Message>
  /** A byte stream or attachment: a Connect answer's stream, a File's content. */
  att?: ByteStream | Attachment
}

/** A service: something you send Messages to. */
export type Service = Sender<Message>

/**
 * What an adapter's `spawn` receives besides its arguments.
 * A pipeline spawns its stages from the last to the first, so each stage's `out` is the next
 * stage's input: a stage forwards the verbs it does not handle itself to `out`, and sends its
 * Log and Error messages there.
 */
export interface BackendContext {
  /** The next stage of the pipeline. The last stage's `out` answers every verb with "not implemented". */
  out: Service
  /** Fires when the instance must stop (the pipeline is shutting down). */
  signal: AbortSignal
  /** Spawns another backend by spec (how `aggregate` builds its members). */
  spawn(spec: string | string[], out?: Service): Promise<Service>
  /** Logs a line at the instance's level (swarmd prints it on stderr with the stage name). */
  log(line: string): void
  /**
   * True when `log` reaches a reader (swarmd, a {@link pipeline} given a `log` option, a registry
   * spawn given `log`); false or absent when lines sent to `log` are dropped. An adapter that prints
   * lines of its own (adapter-debug) sends them to `log` when this is true, so they follow the
   * host's format (`swarmd --log-format json`), and to stderr otherwise. Default: false.
   */
  logged?: boolean
}

/**
 * What an adapter package exports (as `backend`, or `backends` for several): a named factory of
 * services. `swarmd` lists the installed backends with their summaries and usage lines.
 */
export interface Backend {
  /** The name used in a spec, e.g. `dockerclient`. Lowercase, no spaces. */
  readonly name: string
  /** One line that says what it is. */
  readonly summary: string
  /** The usage line, e.g. `dockerclient [URL]`. Shown on a bad spec. */
  readonly usage: string
  /**
   * What the adapter implements, read by the adapter compliance suite and by `swarmd`:
   * the verbs it answers itself, and whether Watch streams and Connect gives a byte stream.
   */
  readonly capabilities?: Capabilities
  /** Creates an instance. Throws InvalidArgumentError (with the usage) for bad arguments. */
  spawn(args: string[], context: BackendContext): Service | Promise<Service>
}

/** What a backend declares it can do. */
export interface Capabilities {
  /** Verbs the instance answers itself (the rest are forwarded or answered "not implemented"). */
  verbs: readonly Verb[]
  /** Watch streams change events. */
  watch?: boolean
  /** Connect gives a byte stream. */
  connect?: boolean
  /** Spawn creates children that Ls then lists. */
  spawn?: boolean
  /** Children can be started and stopped, and Get reports the change. */
  startStop?: boolean
}

/** A change event, as Watch delivers it (JSON in the `args[0]` of a `Set` message). */
export interface WatchEvent {
  /** What happened: `create`, `start`, `stop`, `delete`, `change`, ... */
  type: string
  /** The child it happened to. */
  name: string
  /** ISO 8601 time of the event. */
  time?: string
  /** Anything else the adapter knows (state, revision, exit code, ...). */
  [field: string]: unknown
}

/** What `Client.attach` gives: the child, and the rest of the Attach reply channel (its output). */
export interface Attached<C> {
  instance: C
  output: Receiver<Message>
}

/**
 * Options a service's `send` accepts. A session that delivers a message from a remote peer passes
 * `peer`, so handlers can see who called ({@link CallContext.peer}).
 */
export interface ServiceSendOptions extends OperationOptions {
  /** Who sent the message, when it came over a session. */
  peer?: PeerInfo
}

/** What every handler of a {@link Server} (and of `handler()`, `filter()`) receives besides the args. */
export interface CallContext {
  /** The message being handled, unchanged (`ret` and `att` included). */
  readonly message: Message
  /** `message.verb`. */
  readonly verb: Verb
  /** `message.args`. */
  readonly args: string[]
  /** `message.att`: a File's content, a Connect request's stream. */
  readonly att: ByteStream | Attachment | undefined
  /**
   * Fires when the caller stopped waiting (it closed or cancelled the return channel, e.g. a
   * watcher that went away) or the service was closed. Long work and streams must honour it.
   */
  readonly signal: AbortSignal
  /** Who sent the message, when it came over a session and the session said so. */
  readonly peer: PeerInfo | undefined
}

/** Options shared by the services core builds (Server, Tree, Task, handler, filter). */
export interface ServiceOptions {
  /**
   * How many messages are handled at once. While that many calls are in flight, `send` waits
   * (backpressure reaches the caller). Default: 64.
   */
  maxConcurrency?: number
  /**
   * Called with a failure that could not be answered because the message had no `ret`.
   * Default: ignored.
   */
  onUnansweredError?: (error: unknown, message: Message) => void
}
