/**
 * Reply conventions shared by every service (see `docs/VERBS.md`): how a failure becomes an `Error`
 * message and back, and the small helpers handlers use to answer on a `ret` channel.
 */
import type { Sender } from '../channel.ts'
import {
  ConflictError,
  InvalidArgumentError,
  LibswarmError,
  NotFoundError,
  NotImplementedError,
  RemoteError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
} from '../errors.ts'
import { canTrySend, TRY_SEND } from '../internal/sender-hooks.ts'
import type { Message, Verb } from './types.ts'

/** The error classes an `Error` reply's code (args[1]) turns back into. Others become RemoteError. */
const CODE_TO_CLASS: Record<string, new (message: string) => LibswarmError> = {
  [NotFoundError.code]: NotFoundError,
  [ConflictError.code]: ConflictError,
  [InvalidArgumentError.code]: InvalidArgumentError,
  [NotImplementedError.code]: NotImplementedError,
  [UnavailableError.code]: UnavailableError,
  [UnauthorizedError.code]: UnauthorizedError,
  [TimeoutError.code]: TimeoutError,
}

/** The text of any thrown value. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * The `Error` message that reports `error`: args `[message, code]`, the code being the
 * LibswarmError's `code` (or a RemoteError's `remoteCode`); a plain Error sends only its message.
 */
export function errorMessage(error: unknown): Message {
  const text = errorText(error)
  if (error instanceof RemoteError) {
    return { verb: 'Error', args: error.remoteCode ? [text, error.remoteCode] : [text] }
  }
  if (error instanceof LibswarmError) return { verb: 'Error', args: [text, error.code] }
  return { verb: 'Error', args: [text] }
}

/**
 * The typed error an `Error` message stands for: NotFoundError for `NOT_FOUND`, ConflictError for
 * `CONFLICT`, and so on; any other code (or none) gives a RemoteError. The remote text is kept
 * unchanged as the error's message.
 */
export function errorFromMessage(message: Pick<Message, 'args'>): LibswarmError {
  const [text = 'the service answered Error without a message', code] = message.args
  const Class = code === undefined ? undefined : CODE_TO_CLASS[code]
  if (Class) return new Class(text)
  return new RemoteError(text, code ? { remoteCode: code } : undefined)
}

/** The `Error` a service answers to a verb it does not implement. */
export function notImplementedMessage(verb: Verb | string): Message {
  return { verb: 'Error', args: [`not implemented: ${verb}`, NotImplementedError.code] }
}

/**
 * Sends `message` on `ret` and closes `ret`. Never throws: a caller that went away (ret closed or
 * cancelled) is not an error of the service.
 */
export function replyAndClose(ret: Sender<Message> | undefined, message: Message): Promise<void> {
  if (!ret) return RESOLVED
  if (canTrySend<Message>(ret)) {
    // A session's or a pipe's Sender takes the reply at once when it has room: no promise.
    let done: boolean
    try {
      done = ret[TRY_SEND](message)
    } catch {
      done = true // refused (it cannot be encoded): as a rejected send, just close
    }
    if (done) return closeQuietly(ret)
  }
  return sendThenClose(ret, message)
}

async function sendThenClose(ret: Sender<Message>, message: Message): Promise<void> {
  try {
    await ret.send(message)
  } catch {
    // The caller stopped waiting.
  }
  await closeQuietly(ret)
}

const RESOLVED: Promise<void> = Promise.resolve()
const ignore = (): void => {}

/** Closes `ret`, ignoring a caller that already went away. */
export function closeQuietly(ret: Sender<Message> | undefined): Promise<void> {
  let closing: Promise<void> | undefined
  try {
    closing = ret?.close()
  } catch {
    return RESOLVED // Already gone.
  }
  return closing ? closing.then(ignore, ignore) : RESOLVED
}

/** Answers `Error [message, code]` for `error` on `ret` and closes it. Never throws. */
export function replyError(ret: Sender<Message> | undefined, error: unknown): Promise<void> {
  return replyAndClose(ret, errorMessage(error))
}

/** Answers `Ack` (with optional args and fields such as `ret` or `att`) on `ret` and closes it. Never throws. */
export function replyAck(
  ret: Sender<Message> | undefined,
  fields: Partial<Omit<Message, 'verb'>> = {},
): Promise<void> {
  return replyAndClose(ret, { ...fields, verb: 'Ack', args: fields.args ?? [] })
}
