/**
 * Sessions through a REAL HTTP/1.1 reverse proxy: nginx (Debian package nginx) in front of our
 * WebSocket listener, with the usual Upgrade/Connection configuration.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { connect, listen, type Session, UnauthorizedError, UnavailableError } from '@libswarm/core'
import { drive, within, writeAll } from '@libswarm/transport-compliance'
import { findBinary, freePort, type RealServer, startProcess } from '@libswarm/transport-compliance/proxy'
import { requestResponse } from '@libswarm/transport-compliance/scenario'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { dialBrowserWebSocket, type WebSocketConstructor, websocket } from '../src/index.ts'

const nginx = findBinary('nginx')
if (!nginx && process.env.CI) {
  throw new Error('nginx is not installed, and CI is set: install the Debian package nginx')
}

function nginxConf(dir: string, port: number, backend: number): string {
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location /swarm {
      proxy_pass http://127.0.0.1:${backend};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 60s;
      proxy_buffering off;
    }
    location / { default_type text/html; return 200 "<h1>just a web page</h1>"; }
  }
}
`
}

describe.skipIf(!nginx)(
  `through a real nginx reverse proxy${nginx ? '' : ' (skipped: nginx not installed; apt-get install nginx)'}`,
  () => {
    const transport = websocket()
    let backendPort: number
    let proxy: RealServer

    beforeAll(async () => {
      backendPort = await freePort()
      proxy = await startProcess(
        nginx!,
        (dir) => ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
        'error.log',
        (dir, port) => {
          // nginx's workers run as an unprivileged user when started as root: let them in.
          chmodSync(dir, 0o755)
          mkdirSync(`${dir}/tmp`)
          writeFileSync(`${dir}/nginx.conf`, nginxConf(dir, port, backendPort))
        },
      )
    }, 30_000)

    afterAll(async () => {
      await proxy?.stop()
    })

    it('a session through nginx carries channels, a return channel and byte streams both ways', async () => {
      await using listener = await listen(`ws://127.0.0.1:${backendPort}/swarm`, { transports: [transport] })
      const accepted = listener.accept({ signal: AbortSignal.timeout(10_000) })
      const client: Session = await connect(`ws://127.0.0.1:${proxy.port}/swarm`, {
        transports: [transport],
        signal: AbortSignal.timeout(10_000),
      })
      const server = await accepted
      await within(requestResponse(client, server), 30_000, 'request/response through nginx')
      await within(client.close(), 10_000, 'graceful close')
      expect(await within(server.closed, 10_000, 'server side closed')).toBeUndefined()
    })

    it('links through nginx: 16 MiB each way and a clean half-close', async () => {
      await using listener = await transport.listen(new URL(`ws://127.0.0.1:${backendPort}/swarm`))
      const accepted = listener[Symbol.asyncIterator]().next()
      const client = drive(await transport.dial(new URL(`ws://127.0.0.1:${proxy.port}/swarm`)))
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

    it('tokens pass nginx (header and browser-style access_token); a wrong one is an UnauthorizedError', async () => {
      await using listener = await transport.listen(new URL(`ws://127.0.0.1:${backendPort}/swarm`), {
        serverToken: 's3cret',
      })
      const url = new URL(`ws://127.0.0.1:${proxy.port}/swarm`)
      const error = await transport.dial(url, { token: 'wrong' }).catch((e) => e)
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect(error.message).toMatch(/refused the bearer token/)
      const it = listener[Symbol.asyncIterator]()
      const first = it.next()
      ;(await transport.dial(url, { token: 's3cret' })).destroy()
      expect((await within(first, 5000, 'link')).done).toBe(false)
      const second = it.next()
      const browser = await dialBrowserWebSocket(url, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        token: 's3cret',
      })
      expect((await within(second, 5000, 'browser link')).done).toBe(false)
      browser.destroy()
    })

    it('a page that is not a libswarm endpoint, and a proxy without backend, give clear errors', async () => {
      const page = await transport.dial(new URL(`ws://127.0.0.1:${proxy.port}/`)).catch((e) => e)
      expect(page.message).toMatch(/not a libswarm WebSocket endpoint: it answered HTTP 200/)
      const down = await transport.dial(new URL(`ws://127.0.0.1:${proxy.port}/swarm`)).catch((e) => e)
      expect(down).toBeInstanceOf(UnavailableError)
      expect(down.message).toMatch(/HTTP 502/)
    })
  },
)
