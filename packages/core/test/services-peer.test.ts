/**
 * Per-session authorization: a service exported over a session sees the session's peer in every
 * handler's `context.peer`, forwarding keeps the original caller, and `authorize()` refuses verbs.
 */
import { describe, expect, it } from 'vitest'
import {
  authorize,
  type CallContext,
  Client,
  filter,
  type PeerInfo,
  reference,
  Server,
  type Service,
  type Session,
  Tree,
  UnauthorizedError,
} from '../src/index.ts'
import { bounded, tcpSessions } from './session-helpers.ts'

/** Exports `service` from the server side of a TCP session pair and returns the client's proxy. */
async function overSession(
  service: Service,
): Promise<{ proxy: Service; sessions: Session[]; close(): void }> {
  const [client, server, sockets] = await tcpSessions()
  const carrier = server.open<Service>()
  await carrier.send(reference(service), bounded())
  const incoming = await client.accept<Service>(bounded())
  const proxy = await incoming.receive(bounded())
  return {
    proxy,
    sessions: [client, server],
    close: () => {
      client.abort()
      server.abort()
      sockets.close()
    },
  }
}

function recorder(): { seen: Array<PeerInfo | undefined>; server: Server } {
  const seen: Array<PeerInfo | undefined> = []
  const record = (_args: string[], context: CallContext) => {
    seen.push(context.peer)
  }
  return {
    seen,
    server: new Server({
      onLs: (args, context) => {
        record(args, context)
        return ['a']
      },
      onStart: record,
      onStop: record,
    }),
  }
}

describe('the caller as a handler sees it', () => {
  it('a Server behind a session gets the session peer in context.peer', async () => {
    const { seen, server } = recorder()
    const { proxy, sessions, close } = await overSession(server)
    try {
      await new Client(proxy, { timeout: 5000 }).ls()
      expect(seen).toEqual([sessions[1]!.peer])
      expect(seen[0]).toMatchObject({ transport: 'tcp', address: 'client' })
    } finally {
      close()
    }
  })

  it('an in-process caller has no peer', async () => {
    const { seen, server } = recorder()
    await new Client(server, { timeout: 5000 }).ls()
    expect(seen).toEqual([undefined])
  })

  it('a child reached by Attach over the session sees the peer too', async () => {
    const { seen, server } = recorder()
    const { proxy, close } = await overSession(new Tree({ child: server }))
    try {
      const { instance } = await new Client(proxy, { timeout: 5000 }).attach('child')
      await instance.start()
      expect(seen).toEqual([expect.objectContaining({ transport: 'tcp', address: 'client' })])
    } finally {
      close()
    }
  })

  it('filter (pass-through and forward) and Server fallback keep the original caller', async () => {
    const { seen, server } = recorder()
    const fallback = new Server({}, { fallback: server })
    const filtered = filter(fallback, { Stop: (_message, context) => context.forward() })
    const { proxy, close } = await overSession(filtered)
    try {
      const client = new Client(proxy, { timeout: 5000 })
      await client.start(['child']) // passes through the filter, then the fallback
      await client.stop(['child']) // handled by the filter, which forwards
      expect(seen).toHaveLength(2)
      for (const peer of seen) expect(peer).toMatchObject({ transport: 'tcp', address: 'client' })
    } finally {
      close()
    }
  })
})

describe('authorize()', () => {
  it('refuses a verb for an unauthorized caller with UnauthorizedError naming the caller', async () => {
    const { seen, server } = recorder()
    const guarded = authorize(
      server,
      (peer, message) => message.verb === 'Ls' || peer?.address === 'admin-host',
    )
    const { proxy, close } = await overSession(guarded)
    try {
      const client = new Client(proxy, { timeout: 5000 })
      expect(await client.ls()).toEqual(['a'])
      const error = await client.stop().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UnauthorizedError)
      expect((error as Error).message).toMatch(/Stop is not allowed for tcp peer client/)
      expect(seen).toHaveLength(1) // the refused Stop never reached the service
    } finally {
      close()
    }
  })

  it('a check that throws refuses; an in-process caller is described as such', async () => {
    const guarded = authorize(new Server({ onStart: () => {} }), (peer) => {
      if (!peer) return false
      throw new Error('boom')
    })
    await expect(new Client(guarded, { timeout: 5000 }).start()).rejects.toThrow(
      /Start is not allowed for this in-process caller/,
    )
  })
})
