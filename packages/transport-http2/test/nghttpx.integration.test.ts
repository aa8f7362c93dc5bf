/**
 * Sessions through a REAL HTTP/2 reverse proxy: nghttpx (Debian package nghttp2-proxy) in front of
 * our h2c listener, cleartext and TLS frontends.
 */
import { writeFileSync } from 'node:fs'
import { connect, listen, type Session, UnauthorizedError, UnavailableError } from '@libswarm/core'
import { drive, within, writeAll } from '@libswarm/transport-compliance'
import { type Certs, makeCerts } from '@libswarm/transport-compliance/certs'
import { findBinary, freePort, type RealServer, startProcess } from '@libswarm/transport-compliance/proxy'
import { requestResponse } from '@libswarm/transport-compliance/scenario'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { http2 } from '../src/index.ts'

const nghttpx = findBinary('nghttpx')
if (!nghttpx && process.env.CI) {
  throw new Error('nghttpx is not installed, and CI is set: install the Debian package nghttp2-proxy')
}

describe.skipIf(!nghttpx)(
  `through a real nghttpx reverse proxy${nghttpx ? '' : ' (skipped: nghttpx not installed; apt-get install nghttp2-proxy)'}`,
  () => {
    const transport = http2()
    let backendPort: number
    let proxy: RealServer
    let tlsProxy: RealServer
    let certs: Certs

    const start = (backend: number, frontend: (dir: string, port: number) => string) =>
      startProcess(
        nghttpx!,
        (dir, port) => [
          '--conf=/dev/null',
          `--frontend=${frontend(dir, port)}`,
          `--backend=127.0.0.1,${backend};;proto=h2`,
          '--no-ocsp',
          '--workers=1',
          `--pid-file=${dir}/nghttpx.pid`,
          `--errorlog-file=${dir}/error.log`,
          `--accesslog-file=${dir}/access.log`,
        ],
        'error.log',
      )

    beforeAll(async () => {
      certs = makeCerts()
      backendPort = await freePort()
      proxy = await start(backendPort, (_dir, port) => `127.0.0.1,${port};no-tls`)
      tlsProxy = await startProcess(
        nghttpx!,
        (dir, port) => [
          '--conf=/dev/null',
          `--frontend=127.0.0.1,${port}`,
          `--backend=127.0.0.1,${backendPort};;proto=h2`,
          '--no-ocsp',
          '--workers=1',
          `--pid-file=${dir}/nghttpx.pid`,
          `--errorlog-file=${dir}/error.log`,
          `--accesslog-file=${dir}/access.log`,
          `${dir}/server.key`,
          `${dir}/server.crt`,
        ],
        'error.log',
        (dir) => {
          writeFileSync(`${dir}/server.key`, certs.server.key)
          writeFileSync(`${dir}/server.crt`, certs.server.cert)
        },
      )
    }, 30_000)

    afterAll(async () => {
      await proxy?.stop()
      await tlsProxy?.stop()
    })

    it('a session through the proxy carries channels, a return channel and byte streams both ways', async () => {
      await using listener = await listen(`http2://127.0.0.1:${backendPort}/swarm`, {
        transports: [transport],
      })
      const accepted = listener.accept({ signal: AbortSignal.timeout(10_000) })
      const client: Session = await connect(`http2://127.0.0.1:${proxy.port}/swarm`, {
        transports: [transport],
        signal: AbortSignal.timeout(10_000),
      })
      const server = await accepted
      await within(requestResponse(client, server), 30_000, 'request/response through nghttpx')
      await within(client.close(), 10_000, 'graceful close')
      expect(await within(server.closed, 10_000, 'server side closed')).toBeUndefined()
      expect(proxy.log()).not.toMatch(/\bERROR\b/)
    })

    it('links through the proxy: 16 MiB each way and a clean half-close', async () => {
      await using listener = await transport.listen(new URL(`http2://127.0.0.1:${backendPort}/raw`))
      const it = listener[Symbol.asyncIterator]()
      const accepted = it.next()
      const client = drive(await transport.dial(new URL(`http2://127.0.0.1:${proxy.port}/raw`)))
      const next = await within(accepted, 5000, 'link')
      if (next.done) throw new Error('listener ended')
      const server = drive(next.value)
      const total = 16 * 1024 * 1024
      await within(Promise.all([writeAll(client, total), writeAll(server, total)]), 30_000, 'transfer')
      client.link.end()
      await within(server.ended, 10_000, 'server sees end')
      server.link.end()
      await within(client.ended, 10_000, 'client sees end')
      expect(client.received().length).toBe(total)
      expect(server.received().length).toBe(total)
      expect(await within(client.finished, 10_000, 'client close')).toBeUndefined()
    })

    it('the bearer token passes the proxy; a wrong one is refused with UnauthorizedError', async () => {
      await using listener = await transport.listen(new URL(`http2://127.0.0.1:${backendPort}/swarm`), {
        serverToken: 's3cret',
      })
      const url = new URL(`http2://127.0.0.1:${proxy.port}/swarm`)
      const error = await transport.dial(url, { token: 'wrong' }).catch((e) => e)
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect(error.message).toMatch(/refused the bearer token/)
      const accepted = listener[Symbol.asyncIterator]().next()
      const link = await transport.dial(url, { token: 's3cret' })
      expect((await within(accepted, 5000, 'link')).done).toBe(false)
      link.destroy()
    })

    it('h2 over TLS at the proxy (https://), checking its certificate', async () => {
      await using listener = await listen(`http2://127.0.0.1:${backendPort}/swarm`, {
        transports: [transport],
      })
      const url = `https://127.0.0.1:${tlsProxy.port}/swarm`
      const refused = await transport.dial(new URL(url)).catch((e) => e)
      expect(refused).toBeInstanceOf(UnauthorizedError)
      expect(refused.message).toMatch(/refused the server at https:.*: its certificate/)
      const accepted = listener.accept({ signal: AbortSignal.timeout(10_000) })
      const client = await connect(url, {
        transports: [http2({ tls: { ca: certs.ca } })],
        signal: AbortSignal.timeout(10_000),
      })
      await within(requestResponse(client, await accepted, 1024 * 1024), 30_000, 'request/response over TLS')
      client.abort('done')
    })

    it('no backend behind the proxy: UnavailableError (HTTP 502/503)', async () => {
      const error = await transport.dial(new URL(`http2://127.0.0.1:${proxy.port}/swarm`)).catch((e) => e)
      expect(error).toBeInstanceOf(UnavailableError)
      expect(error.message).toMatch(/HTTP 50[234]/)
    })
  },
)
