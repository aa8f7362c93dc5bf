import type { Link, LinkHandlers, PeerInfo } from '@libswarm/core'

/** Node's IPC channel as either end sees it: a ChildProcess in the parent, `process` in the child. */
export interface IpcChannel {
  send?(message: unknown, callback?: (error: Error | null) => void): boolean
  disconnect?(): void
  readonly connected?: boolean
  on(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'disconnect', listener: () => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

/** Unsent IPC messages before `write` returns false. */
const HIGH_WATER = 64

/**
 * A {@link Link} over Node's IPC channel (spawned with `serialization: 'advanced'`, so each chunk
 * travels as a Uint8Array). Messages that are not byte chunks are left to other listeners.
 */
export function ipcLink(channel: IpcChannel, peer: PeerInfo): Link {
  let handlers: LinkHandlers | undefined
  const early: Uint8Array[] = []
  let pending = 0
  let wantDrain = false
  let ended = false
  let closed = false
  const onMessage = (message: unknown) => {
    if (!(message instanceof Uint8Array)) return
    if (handlers) handlers.data(message)
    else early.push(message)
  }
  const finish = () => {
    if (closed) return
    closed = true
    channel.off('message', onMessage)
    handlers?.end()
    handlers?.close()
  }
  channel.on('message', onMessage)
  channel.on('disconnect', finish)
  const disconnect = () => {
    if (channel.connected) channel.disconnect?.()
  }
  return {
    peer,
    start(h) {
      if (handlers) throw new Error('ipcLink: start() may only be called once')
      handlers = h
      for (const chunk of early.splice(0)) h.data(chunk)
      if (!channel.connected) finish()
    },
    write(chunk) {
      if (closed || ended || !channel.connected || !channel.send) return true
      pending++
      channel.send(chunk, (error) => {
        pending--
        if (error && !closed) {
          closed = true
          handlers?.error(error)
          return
        }
        if (ended && pending === 0) disconnect()
        if (wantDrain && pending < HIGH_WATER / 2) {
          wantDrain = false
          handlers?.drain()
        }
      })
      if (pending >= HIGH_WATER) wantDrain = true
      return pending < HIGH_WATER
    },
    end() {
      if (ended) return
      ended = true
      if (pending === 0) disconnect()
    },
    destroy() {
      ended = true
      disconnect()
      finish()
    },
  }
}
