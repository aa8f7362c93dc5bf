/**
 * A call whose reply channel is aborted: the Client rejects with the abort's reason when it is a
 * typed error (a session that died, a handler that gave a reason), so the caller learns what happened.
 */
import { describe, expect, it } from 'vitest'
import {
  ChannelAbortedError,
  Client,
  handler,
  type Message,
  NotFoundError,
  reference,
  type Service,
  SessionClosedError,
} from '../src/index.ts'
import { bounded, tcpSessions } from './session-helpers.ts'

describe('Client: an aborted reply channel', () => {
  it('rejects with the typed reason a handler aborted the reply channel with', async () => {
    const gone = new NotFoundError('the widget went away while Get ran')
    const service = handler(async (message: Message) => message.ret?.abort(gone))
    const client = new Client(service, { timeout: 5000 })
    await expect(client.get()).rejects.toBe(gone)
  })

  it('keeps ChannelAbortedError when the reason is not a typed error', async () => {
    const service = handler(async (message: Message) => message.ret?.abort('no reason in particular'))
    const client = new Client(service, { timeout: 5000 })
    const error = await client.get().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect((error as ChannelAbortedError).reason).toBe('no reason in particular')
  })

  it('over a session that dies mid-call: rejects with the session error, at once', async () => {
    const [near, far, sockets] = await tcpSessions()
    let called!: () => void
    const reached = new Promise<void>((resolve) => (called = resolve))
    // A backend that takes the call and does not answer until the test is over.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const service: Service = handler(() => {
      called()
      return held
    })
    await far.open<Service>().send(reference(service), bounded())
    const proxy = await (await near.accept<Service>(bounded())).receive(bounded())
    const client = new Client(proxy, { timeout: 10_000 })
    const pending = client.start().catch((e: unknown) => e)
    await Promise.race([reached, pending])
    const started = Date.now()
    sockets.serverSocket.destroy()
    const error = await pending
    expect(error).toBeInstanceOf(SessionClosedError)
    expect(Date.now() - started).toBeLessThan(5000)
    release()
    near.abort('test over')
    far.abort('test over')
    sockets.close()
  })
})
