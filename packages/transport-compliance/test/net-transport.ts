/** A plain TCP transport from node:net + duplexLink, so the suite can run before transport-tcp exists. */
import { once } from 'node:events'
import net from 'node:net'
import { duplexLink, type Link, type LinkListener, pipe, type Transport } from '@libswarm/core'
import { listenError } from '@libswarm/core/node'

export function netTransport(): Transport {
  return {
    name: 'net',
    schemes: ['tcp'],
    async dial(url) {
      const socket = net.connect(Number(url.port), url.hostname)
      await once(socket, 'connect')
      return duplexLink(socket, { transport: 'tcp', address: `${url.hostname}:${url.port}` })
    },
    async listen(url, options) {
      const [links, push] = pipe<Link>({ highWaterMark: 1024 })
      const authenticate = options?.authenticate
      const server = net.createServer(async (socket) => {
        const link = duplexLink(socket, {
          transport: 'tcp',
          address: `${socket.remoteAddress}:${socket.remotePort}`,
        })
        const admitted = authenticate
          ? await Promise.resolve(authenticate(link.peer)).catch(() => false)
          : true
        if (!admitted) {
          link.destroy()
          return
        }
        push.send(link).catch(() => socket.destroy())
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(listenError('net', url.href, error)))
        server.listen(Number(url.port || 0), url.hostname, resolve)
      })
      const port = (server.address() as net.AddressInfo).port
      const listener: LinkListener = {
        url: new URL(`tcp://${url.hostname}:${port}`),
        close: async () => {
          server.close()
          await push.close()
        },
        [Symbol.asyncDispose]: () => listener.close(),
        [Symbol.asyncIterator]: () => links[Symbol.asyncIterator](),
      }
      return listener
    },
  }
}
