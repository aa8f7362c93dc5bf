import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo } from '@libswarm/core'
import authorization from '@libswarm/transport-compliance/authorization'
import { afterAll, describe, expect, it } from 'vitest'
import { unix } from '../src/index.ts'
import { loadAddon } from '../src/internal/native.ts'

// peer.identity ({ pid, uid, gid }, SO_PEERCRED) needs the native addon, built where a C compiler is.
const hasCredentials = loadAddon() !== undefined
if (!hasCredentials && process.env.CI) throw new Error('[transport-unix] the native addon is not built')
const dir = mkdtempSync(join(tmpdir(), 'ls-unix-authz-'))
chmodSync(dir, 0o755) // so that another user can reach the socket files (and be stopped by their mode)
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const socketPath = () => join(dir, `s${n++}.sock`)
const uid = process.getuid?.() ?? -1

if (hasCredentials) {
  authorization({
    name: 'unix peer credentials',
    transport: () => unix(),
    url: () => `unix://${socketPath()}`,
    admin: {},
    otherMissing: 'every dial from this process has its uid; the other-uid cases below use a child process',
    isAdmin: (peer) => (peer?.identity as { uid?: number } | undefined)?.uid === uid,
    expectAdminIdentity: (identity) => {
      expect(identity).toMatchObject({ uid, gid: process.getgid?.(), pid: process.pid })
    },
  })
}

/** Connects to `path` from a child process running as `nobody`; resolves with "connected" or the error code. */
function connectAsNobody(path: string): Promise<string> {
  const script = `require('node:net').connect(${JSON.stringify(path)}).on('connect', function () { console.log('connected'); this.destroy() }).on('error', (e) => console.log(e.code))`
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { uid: 65534, gid: 65534, timeout: 5000 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout.trim()),
    )
  })
}

describe.skipIf(uid !== 0 || !hasCredentials)(
  'unix sockets and other users (needs root to run a child as nobody)',
  () => {
    it('the default mode 0600 keeps another user out: connect fails with EACCES', async () => {
      const path = socketPath()
      const listener = await unix().listen(new URL(`unix://${path}`))
      try {
        expect(await connectAsNobody(path)).toBe('EACCES')
      } finally {
        await listener.close()
      }
    })

    it('with a wider mode, authenticate sees the other uid and can refuse it', async () => {
      const path = socketPath()
      const seen: PeerInfo[] = []
      const listener = await unix({ mode: 0o666 }).listen(new URL(`unix://${path}`), {
        authenticate: (peer) => {
          seen.push(peer)
          return (peer.identity as { uid?: number } | undefined)?.uid === uid
        },
      })
      try {
        expect(await connectAsNobody(path)).toBe('connected')
        const deadline = Date.now() + 5000
        while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
        expect(seen[0]?.identity).toMatchObject({ uid: 65534, gid: 65534 })
      } finally {
        await listener.close()
      }
    })
  },
)
