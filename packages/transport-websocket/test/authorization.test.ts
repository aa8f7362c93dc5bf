import authorization from '@libswarm/transport-compliance/authorization'
import { expect } from 'vitest'
import { websocket } from '../src/index.ts'

const users: Record<string, { user: string }> = {
  'admin-token': { user: 'admin' },
  'reader-token': { user: 'reader' },
}

authorization({
  name: 'websocket bearer token',
  transport: () => websocket(),
  url: () => 'ws://127.0.0.1:0/swarm',
  listenOptions: { serverToken: (token: string) => users[token] ?? false },
  admin: { token: 'admin-token' },
  other: { token: 'reader-token' },
  isAdmin: (peer) => (peer?.identity as { user?: string } | undefined)?.user === 'admin',
  expectAdminIdentity: (identity) => expect(identity).toEqual({ user: 'admin' }),
})
