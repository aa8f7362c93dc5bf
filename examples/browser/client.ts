/**
 * The browser side: bundled by server.ts with esbuild, whose `browser` condition picks
 * @libswarm/transport-websocket's browser entry (the global WebSocket, no Node imports).
 */
import { Client, connect, type Message } from '@libswarm/core'
import { websocket } from '@libswarm/transport-websocket'

const show = (id: string, text: string) => {
  document.getElementById(id)!.textContent = text
}

async function main(): Promise<void> {
  // The same origin as the page: ws://host:port/swarm (wss:// when the page is https).
  const url = new URL('/swarm', location.href)
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const session = await connect(url, { transports: [websocket()], signal: AbortSignal.timeout(10_000) })
  show('status', `connected to ${url.href}`)

  // A remote service is a Sender<Message> on the session; Client makes typed calls over it.
  const host = new Client(session.open<Message>(), { timeout: 10_000 })
  const events = await host.watch()
  const seen: string[] = []
  void (async () => {
    for await (const event of events) {
      seen.push(`${event.type} ${event.name}`)
      show('events', seen.join('\n'))
    }
  })()

  const name = `from-browser-${Math.floor(Math.random() * 1e6)}`
  const container = await host.spawn(['--name', name, 'busybox', 'sh'])
  await container.start()
  show('ls', (await host.ls()).join('\n'))
  show('get', JSON.stringify(await container.get(), null, 2))
  document.body.dataset.container = name
  show('status', 'done')
}

main().catch((error: Error) => show('status', `failed: ${error.name}: ${error.message}`))
