import {
  type Backend,
  connect,
  InvalidArgumentError,
  type Message,
  pipe,
  replyAck,
  replyError,
  SENDER,
  type Service,
  UnavailableError,
} from '@libswarm/core'
import { errorMessage } from './adapters.ts'
import type { Progress } from './progress.ts'
import { SCHEMES, type Security, transportFor } from './transports.ts'

const USAGE =
  'remote URL   (URL of a swarmd started with --listen: tcp://, unix://, tls://, http2://, https://, ws://, wss://)'

/**
 * Creates the built-in `remote` backend: a session to a swarmd started with `--listen URL`; every
 * verb sent to this stage goes to the remote pipeline's head, except a bare Start or Stop, which
 * this stage answers itself (stopping the local pipeline must not stop the remote one). If the
 * session ends while running, the stage reports an Error (swarmd exits 1).
 */
export function createRemoteBackend(options: { progress: Progress; security?: Security }): {
  backend: Backend
} {
  const backend: Backend = {
    name: 'remote',
    summary: 'a remote swarmd (started with --listen URL) as one stage: verbs go to its pipeline',
    usage: USAGE,
    async spawn(args, context) {
      const [url, ...rest] = args
      if (url === undefined || rest.length > 0 || !URL.canParse(url)) {
        throw new InvalidArgumentError(
          `remote needs exactly one URL, e.g. remote tcp://127.0.0.1:4242 (got ${args.length === 0 ? 'none' : JSON.stringify(args.join(' '))})`,
        )
      }
      const target = new URL(url)
      if (!SCHEMES.includes(target.protocol.replace(/:$/, ''))) {
        throw new InvalidArgumentError(
          `remote: unsupported URL scheme "${target.protocol}" (use ${SCHEMES.join(', ')})`,
        )
      }
      const transport = await transportFor(target, options.security)
      const session = await options.progress.run(`connecting to ${url}`, async () => {
        // The signal given to connect also ends the session once it is up: it is aborted only if
        // dialling takes too long or swarmd stops meanwhile, never after the session is up.
        const dial = new AbortController()
        const timer = setTimeout(() => dial.abort(new Error('no answer within 15 s')), 15_000)
        const onStop = () => dial.abort(new Error('swarmd is stopping'))
        context.signal.addEventListener('abort', onStop, { once: true })
        try {
          return await connect(target, {
            transports: [transport],
            signal: dial.signal,
            // Child services the cli attached to stay referenced until exit; do not wait 10 s for them.
            limits: { closeTimeout: 1_000 },
          })
        } catch (error) {
          // A URL the transport refuses (no port, no host, a bad path) is a bad argument (exit 2).
          if (
            error instanceof InvalidArgumentError ||
            (error as { code?: unknown } | undefined)?.code === InvalidArgumentError.code
          ) {
            throw new InvalidArgumentError(`remote ${url}: ${errorMessage(error)}`, { cause: error })
          }
          throw new UnavailableError(`cannot reach a swarmd at ${url}: ${errorMessage(error)}`, {
            cause: error,
          })
        } finally {
          clearTimeout(timer)
          context.signal.removeEventListener('abort', onStop)
        }
      })
      const remoteHead = session.open<Message>()
      let stopping = false
      context.signal.addEventListener(
        'abort',
        () => {
          stopping = true
          void session.close()
        },
        { once: true },
      )
      void session.closed.then(async (error) => {
        if (stopping) return
        context.log(`the session to ${url} ended${error ? `: ${error.message}` : ''}`)
        await context.out
          .send({
            verb: 'Error',
            args: [`remote ${url}: the session ended${error ? `: ${error.message}` : ''}`],
          })
          .catch(() => {})
      })
      const [incoming, input] = pipe<Message>()
      const forwarding = (async () => {
        for await (const message of incoming) {
          if ((message.verb === 'Start' || message.verb === 'Stop') && message.args.length === 0) {
            await replyAck(message.ret)
            continue
          }
          try {
            await remoteHead.send(message)
          } catch (error) {
            await replyError(message.ret, new UnavailableError(`remote ${url}: ${errorMessage(error)}`))
          }
        }
        stopping = true
        await session.close().catch(() => {})
      })()
      // Closing the stage ends the session with a goodbye before swarmd exits.
      const service: Service = {
        [SENDER]: true,
        send: (message, opts) => input.send(message, opts),
        close: async () => {
          await input.close()
          await forwarding
        },
        abort: (reason) => input.abort(reason),
        closed: input.closed,
        [Symbol.asyncDispose]: () => service.close(),
      }
      return service
    },
  }
  return { backend }
}
