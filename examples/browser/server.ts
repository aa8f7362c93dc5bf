/**
 * A Node service for a browser page: one HTTP server serves the page, its script (bundled on
 * start with esbuild) and, at /swarm, a WebSocket endpoint where each channel a page opens is a
 * connection to a container host (the simulator adapter).
 *
 *   npx tsx browser/server.ts [port=8080]      # then open http://127.0.0.1:8080/
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { simulator } from '@libswarm/adapter-simulator'
import { createSession, type Message, reference, replyError, type Session } from '@libswarm/core'
import { websocketHandler } from '@libswarm/transport-websocket'
import { build } from 'esbuild'

const port = Number(process.argv[2] ?? 8080)
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

// Bundle the page's script for browsers: the `browser` condition selects the WebSocket client
// that runs on the global WebSocket.
const bundle = await build({
  entryPoints: [here('client.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['browser'],
  target: 'es2022',
  write: false,
  logLevel: 'warning',
})
const script = bundle.outputFiles[0]!.contents
const page = readFileSync(here('index.html'))

const { service } = simulator({ containers: ['web'] })

const server = createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
  } else if (req.url === '/client.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script)
  } else {
    res.writeHead(404).end('not found\n')
  }
})
const endpoint = websocketHandler({ path: '/swarm' })
endpoint.attach(server)

/** Every message a page sends on a channel goes to the host; its `ret` carries the answer back. */
async function forward(channel: AsyncIterable<Message>, host: typeof service): Promise<void> {
  try {
    for await (const message of channel)
      await host.send(message).catch((error) => replyError(message.ret, error))
  } catch {
    // The page went away.
  }
}

const sessions = new Set<Session>()
void (async () => {
  for await (const link of endpoint) {
    void (async () => {
      const session = await createSession(link, { role: 'server' })
      sessions.add(session)
      void session.closed.then(() => sessions.delete(session))
      // A reference per session: a page that closes what it was given cannot close the host.
      const host = reference(service)
      for await (const channel of session) void forward(channel as AsyncIterable<Message>, host)
    })().catch((error: Error) => console.error(`a page's session failed: ${error.message}`))
  }
})()

await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
const address = server.address()
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`
console.log(`serving ${url}`)

const stop = async () => {
  await Promise.allSettled([...sessions].map((session) => session.close()))
  server.closeAllConnections()
  server.close(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
