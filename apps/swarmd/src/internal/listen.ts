import {
  listen,
  type Message,
  reference,
  replyError,
  type Service,
  type ServiceSendOptions,
  type Session,
} from '@libswarm/core'
import { errorMessage } from './adapters.ts'
import type { Logger } from './log.ts'
import { type Security, transportFor } from './transports.ts'

/** A running endpoint. */
export interface Served {
  url: URL
  /** Stops accepting, closes the sessions it accepted. Never rejects. */
  close(): Promise<void>
}

/**
 * Serves `head` on `url`: every channel a peer opens on a session is a service connection, and
 * each message received on it is sent to `head` (its `ret` carries the answer back over the session).
 * This is what `remote URL` in another swarmd dials.
 */
export async function serve(
  url: string,
  head: Service,
  options: { logger: Logger; security?: Security },
): Promise<Served> {
  const target = new URL(url)
  const transport = await transportFor(target, options.security)
  const { logger } = options
  const listener = await listen(target, {
    transports: [transport],
    onError: (error) => logger.warn(`${target.protocol}// a peer failed its handshake: ${error.message}`),
  })
  const sessions = new Set<Session>()
  const loop = (async () => {
    for await (const session of listener) {
      sessions.add(session)
      const peer = session.peer.address ?? session.peer.transport
      logger.info(`peer connected: ${peer}`)
      void session.closed.then((error) => {
        sessions.delete(session)
        logger.info(`peer disconnected: ${peer}${error ? ` (${error.message})` : ''}`)
      })
      void (async () => {
        try {
          // Each session gets its own reference to the head: whatever the session closes or aborts
          // when it ends, the pipeline head stays open for the next client.
          const shared = reference(head)
          // Every message carries the session's peer, so handlers see who called (context.peer).
          const options: ServiceSendOptions = { peer: session.peer }
          for await (const channel of session)
            void forward(channel as AsyncIterable<Message>, shared, options)
        } catch {
          // The session ended; its `closed` reports why.
        }
      })()
    }
  })()
  let closing: Promise<void> | undefined
  return {
    url: listener.url,
    close: () =>
      (closing ??= (async () => {
        await listener.close().catch((error) => logger.warn(`closing ${url}: ${errorMessage(error)}`))
        await loop.catch(() => {})
        await Promise.allSettled([...sessions].map((session) => session.close()))
      })()),
  }
}

async function forward(
  channel: AsyncIterable<Message>,
  head: Service,
  options: ServiceSendOptions,
): Promise<void> {
  try {
    for await (const message of channel) {
      try {
        await head.send(message, options)
      } catch (error) {
        await replyError(message.ret, error)
      }
    }
  } catch {
    // The peer aborted its channel or the session ended.
  }
}
