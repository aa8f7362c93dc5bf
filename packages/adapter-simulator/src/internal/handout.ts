import { type Message, pipe, replyError, type Service, UnavailableError } from '@libswarm/core'

/**
 * A stand-in for `target` to hand to one caller (an Attach or Spawn reply). Closing it, which a
 * session does to the services it carried when it ends, leaves `target` open for everyone else.
 */
export function handout(target: Service): Service {
  const [messages, service] = pipe<Message>({ highWaterMark: 16 })
  void (async () => {
    for await (const message of messages) {
      try {
        await target.send(message)
      } catch (error) {
        await replyError(
          message.ret,
          new UnavailableError('[adapter-simulator] the host has shut down', { cause: error }),
        )
      }
    }
  })().catch(() => {})
  return service
}
