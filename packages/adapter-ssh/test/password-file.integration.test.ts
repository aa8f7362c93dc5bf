/**
 * Password authentication and the File verb against real OpenSSH sshds: a system user made for this
 * file with a random password (removed afterwards, also when a test fails), one sshd that takes the
 * password as such (`PasswordAuthentication`), one that only asks for it by keyboard-interactive
 * through PAM (as many servers do), and File writing over SFTP.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { type BackendContext, Client, notImplemented } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import { Sshd, SystemUser, sshdMissing, systemUserMissing } from './sshd.ts'

const missing = sshdMissing() ?? systemUserMissing()

function context(): BackendContext & { abort(): void } {
  const controller = new AbortController()
  return {
    out: notImplemented,
    signal: controller.signal,
    log: () => {},
    spawn: () => Promise.reject(new Error('unused')),
    abort: () => controller.abort(),
  }
}

/** Runs `command` through Connect -- and gives what it printed. */
async function run(host: Client, ...command: string[]): Promise<string> {
  const stream = (await host.connect(['--', ...command], { timeout: 10_000 })) as Readable
  let text = ''
  for await (const chunk of stream) text += chunk
  return text
}

describe.skipIf(missing)(`password authentication and File${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let user: SystemUser
  let passwordSshd: Sshd
  let pamSshd: Sshd
  const env = 'LIBSWARM_TEST_SSH_PASSWORD'

  beforeAll(async () => {
    user = SystemUser.create()
    process.env[env] = user.password
    passwordSshd = await Sshd.start({
      config: ['PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'UsePAM no'],
    })
    pamSshd = await Sshd.start({
      config: ['PasswordAuthentication no', 'KbdInteractiveAuthentication yes', 'UsePAM yes'],
    })
  })
  afterAll(async () => {
    delete process.env[env]
    // The servers first (a session of the user ends with them), then the user, whatever failed.
    await Promise.allSettled([passwordSshd?.stop(), pamSshd?.stop()])
    user?.remove()
  })

  /** The user's host on `sshd`, password from the environment; `ctx.abort()` disconnects. */
  const login = async (sshd: Sshd, ctx: BackendContext) =>
    new Client(
      await backend.spawn(
        [
          `${user.name}@127.0.0.1:${sshd.port}`,
          `--password-env=${env}`,
          `--known-hosts=${sshd.knownHosts}`,
          '--no-agent',
        ],
        ctx,
      ),
    )

  it.each([
    ['the password method', () => passwordSshd],
    ['keyboard-interactive through PAM only', () => pamSshd],
  ])('logs in with a password by %s', async (_how, sshd) => {
    const ctx = context()
    try {
      const host = await login(sshd(), ctx)
      expect(await run(host, 'id', '-un')).toBe(`${user.name}\n`)
    } finally {
      ctx.abort()
    }
  })

  it.each([
    ['the password method', () => passwordSshd],
    ['keyboard-interactive through PAM only', () => pamSshd],
  ])('refuses a wrong password by %s, saying what was tried', async (_how, sshd) => {
    const ctx = context()
    process.env[env] = 'not the password'
    try {
      const host = await login(sshd(), ctx)
      await expect(run(host, 'true')).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/\[adapter-ssh\] .* refused authentication \(tried: password\)/),
      })
    } finally {
      process.env[env] = user.password
      ctx.abort()
    }
  })

  describe('File PATH', () => {
    it('writes a byte stream to the path, relative to the login directory, replacing what was there', async () => {
      const ctx = context()
      try {
        const host = await login(passwordSshd, ctx)
        const home = (await run(host, 'sh', '-c', 'echo "$HOME"')).trim()
        writeFileSync(join(home, 'notes.txt'), 'old content that must go\n')
        const body = Buffer.from(`${'0123456789abcdef'.repeat(64 * 1024)}end\n`) // 1 MiB and a bit
        await host.file('notes.txt', Readable.from([body.subarray(0, 1000), body.subarray(1000)]))
        expect(readFileSync(join(home, 'notes.txt')).equals(body)).toBe(true)
        // Written as the user, and no temporary file left next to it.
        expect(statSync(join(home, 'notes.txt')).uid).toBe(statSync(home).uid)
        expect(await run(host, 'sh', '-c', 'ls -A "$HOME" | grep -c part || true')).toBe('0\n')
      } finally {
        ctx.abort()
      }
    })

    it('takes an open file as the content', async () => {
      const ctx = context()
      const local = join(passwordSshd.dir, 'upload.bin')
      writeFileSync(local, 'from an open file\n')
      const handle = await open(local)
      try {
        const host = await login(passwordSshd, ctx)
        await host.file('/tmp/libswarm-file-test.txt', handle)
        expect(await run(host, 'cat', '/tmp/libswarm-file-test.txt')).toBe('from an open file\n')
        await run(host, 'rm', '-f', '/tmp/libswarm-file-test.txt')
      } finally {
        await handle.close()
        ctx.abort()
      }
    })

    it('answers clear errors: no such directory, no permission, no content, no path', async () => {
      const ctx = context()
      try {
        const host = await login(passwordSshd, ctx)
        await expect(host.file('no/such/dir/x.txt', Readable.from(['x']))).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: expect.stringMatching(
            /\[adapter-ssh\] File no\/such\/dir\/x\.txt on .*does its directory exist/,
          ),
        })
        await expect(host.file('/etc/libswarm-not-allowed', Readable.from(['x']))).rejects.toMatchObject({
          code: 'UNAUTHORIZED',
          message: expect.stringMatching(/no permission to write there/),
        })
        await expect(host.call('File', ['x.txt'])).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/needs its content in `att`/),
        })
        await expect(host.call('File', [], { att: Readable.from(['x']) })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/File takes one remote PATH/),
        })
      } finally {
        ctx.abort()
      }
    })
  })
})
