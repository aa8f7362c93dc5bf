import authorization from '@libswarm/transport-compliance/authorization'
import { expect } from 'vitest'
import { http2 } from '../src/index.ts'

const users: Record<string, { user: string }> = {
  'admin-token': { user: 'admin' },
  'reader-token': { user: 'reader' },
}

authorization({
  name: 'http2 bearer token',
  transport: () => http2(),
  url: () => 'http2://127.0.0.1:0/swarm',
  listenOptions: { serverToken: (token: string) => users[token] ?? false },
  admin: { token: 'admin-token' },
  other: { token: 'reader-token' },
  isAdmin: (peer) => (peer?.identity as { user?: string } | undefined)?.user === 'admin',
  expectAdminIdentity: (identity) => expect(identity).toEqual({ user: 'admin' }),
})
