import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import {
  type BackendContext,
  Client,
  createSession,
  duplexLink,
  type Message,
  notImplemented,
  pipe,
  Server,
  type Service,
  type Session,
} from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, forwardPort, SshConnection } from '../src/index.ts'
import { Sshd, sshdMissing } from './sshd.ts'

const missing = sshdMissing()

function context(out?: Service): BackendContext & { abort(): void; logs: string[] } {
  const controller = new AbortController()
  const logs: string[] = []
  return {
    out: out ?? notImplemented,
    signal: controller.signal,
    log: (line) => logs.push(line),
    spawn: () => Promise.reject(new Error('unused')),
    abort: () => controller.abort(),
    logs,
  }
}

/** Reads a byte stream until `until` matches what arrived, within `ms`. */
async function readUntil(stream: Duplex, until: RegExp, ms = 5000): Promise<string> {
  let text = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${until}; got ${JSON.stringify(text)}`)),
      ms,
    )
    const onData = (chunk: Buffer) => {
      text += chunk.toString()
      if (until.test(text)) {
        clearTimeout(timer)
        stream.off('data', onData)
        resolve(text)
      }
    }
    stream.on('data', onData)
  })
}

describe.skipIf(missing)(`ssh adapter against a real sshd${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let sshd: Sshd

  beforeAll(async () => {
    sshd = await Sshd.start()
  })
  afterAll(async () => {
    await sshd?.stop()
  })

  const args = () => [
    sshd.target,
    `--identity=${sshd.userKey}`,
    `--known-hosts=${sshd.knownHosts}`,
    '--no-agent',
  ]

  it('Spawn runs a command with shell metacharacters passed unchanged; Log carries its lines; Get its exit', async () => {
    const [logs, out] = pipe<Message>({ highWaterMark: 100 })
    const ctx = context(out as Service)
    const host = new Client(await backend.spawn(args(), ctx))
    try {
      const marker = join(sshd.dir, 'pwned')
      const tricky = [
        `a b`,
        `$(touch ${marker})`,
        '`id`',
        `'quoted'`,
        '"dq"',
        '; echo injected',
        '*',
        '\\',
        '',
      ]
      const job = await host.spawn(['--name=printer', 'printf', '%s\\n', ...tricky])
      expect(await host.ls()).toEqual(['printer'])
      expect(await (await host.attach('')).instance.ls()).toEqual(['printer']) // no NAME: itself
      const events = await job.watch()
      await job.start()
      const lines: string[] = []
      while (lines.length < tricky.length) {
        const message = await logs.receive({ signal: AbortSignal.timeout(5000) })
        if (message.verb === 'Log') lines.push(message.args[0]!)
      }
      expect(lines).toEqual(tricky)
      expect((await events.receive({ signal: AbortSignal.timeout(5000) })).type).toBe('start')
      expect(await events.receive({ signal: AbortSignal.timeout(5000) })).toMatchObject({
        type: 'stop',
        exitCode: 0,
      })
      expect(await job.get()).toMatchObject({ state: 'exited', exitCode: 0, command: 'printf', starts: 1 })
      expect(() => readFileSync(marker)).toThrow() // the $(...) was not run
    } finally {
      ctx.abort()
    }
  })

  it('Stop ends a long-running command (TERM) and Get reports it', async () => {
    const ctx = context()
    const host = new Client(await backend.spawn(args(), ctx))
    try {
      const job = await host.spawn(['sleep', '30'])
      expect(await host.ls()).toEqual(['sleep-1'])
      await host.start(['sleep-1']) // Start NAME on the host addresses the command (VERBS.md rule 8)
      expect(await host.get(['sleep-1'])).toMatchObject({ state: 'running' })
      await expect(host.start()).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
      await expect(host.stop(['ghost'])).rejects.toMatchObject({ code: 'NOT_FOUND' })
      const running = await job.get<{ state: string; pid: number }>()
      expect(running.state).toBe('running')
      expect(running.pid).toBeGreaterThan(1)
      await expect(job.start()).rejects.toMatchObject({ code: 'CONFLICT' })
      const started = Date.now()
      await job.stop()
      expect(Date.now() - started).toBeLessThan(4000)
      expect(await job.get()).toMatchObject({ state: 'exited', stopped: true, signal: 'SIGTERM' })
    } finally {
      ctx.abort()
    }
  })

  it('Connect gives a shell, and a command stdio', async () => {
    const ctx = context()
    const host = new Client(await backend.spawn(args(), ctx))
    try {
      const shell = (await host.connect()) as Duplex
      shell.write('echo "shell says $((6*7))"\nexit\n')
      expect(await readUntil(shell, /shell says 42/)).toMatch(/shell says 42/)
      const cat = (await host.connect(['--', 'cat'])) as Duplex
      cat.write('round trip\n')
      expect(await readUntil(cat, /round trip/)).toBe('round trip\n')
      cat.end()
      // Connect on a spawned command: its stdin and stdout.
      const job = await host.spawn(['--name=catter', 'cat'])
      await expect(job.connect()).rejects.toMatchObject({ code: 'CONFLICT' })
      await job.start()
      const stdio = (await job.connect()) as Duplex
      stdio.write('to the job\n')
      expect(await readUntil(stdio, /to the job/)).toBe('to the job\n')
      const events = await job.watch()
      stdio.end() // closes its stdin: cat exits by itself
      const stop = await events.receive({ signal: AbortSignal.timeout(5000) })
      expect(stop).toMatchObject({ type: 'stop', exitCode: 0, stopped: false })
    } finally {
      ctx.abort()
    }
  })

  it('tunnels to a TCP port and to a unix socket on the server, and forwards a local port', async () => {
    const echo = (socket: import('node:net').Socket) => socket.pipe(socket)
    const tcp = createServer(echo)
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const socketPath = join(sshd.dir, 'swarmd.sock')
    const unix = createServer(echo)
    await new Promise<void>((resolve) => unix.listen(socketPath, resolve))
    const ctx = context()
    const host = new Client(await backend.spawn(args(), ctx))
    const connection = new SshConnection({
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      identityFiles: [sshd.userKey],
      knownHosts: sshd.knownHosts,
      agent: false,
    })
    try {
      const port = (tcp.address() as { port: number }).port
      const viaTcp = (await host.connect([`tcp://127.0.0.1:${port}`])) as Duplex
      viaTcp.write('over tcp')
      expect(await readUntil(viaTcp, /over tcp/)).toBe('over tcp')
      viaTcp.end()
      const viaUnix = (await host.connect([`unix://${socketPath}`])) as Duplex
      viaUnix.write('over unix')
      expect(await readUntil(viaUnix, /over unix/)).toBe('over unix')
      viaUnix.end()
      await expect(host.connect([`unix://${join(sshd.dir, 'absent.sock')}`])).rejects.toThrow(
        /could not open a tunnel/,
      )

      await using forward = await forwardPort(connection, { remoteHost: '127.0.0.1', remotePort: port })
      const { connect } = await import('node:net')
      const local = connect(forward.port, '127.0.0.1')
      local.write('over -L')
      expect(await readUntil(local, /over -L/)).toBe('over -L')
      local.destroy()
    } finally {
      ctx.abort()
      await connection.close()
      tcp.close()
      unix.close()
    }
  })

  it('reaches a swarmd on a remote unix socket: a libswarm session rides the SSH connection', async () => {
    // A stand-in for `swarmd --listen unix:///...`: each channel a peer opens carries requests to its head.
    const head = new Server({ onGet: () => ({ from: 'the remote swarmd' }), onLs: () => ['web', 'db'] })
    const socketPath = join(sshd.dir, 'remote-swarmd.sock')
    const sessions: Session[] = []
    const listener = createServer((socket) => {
      void (async () => {
        const session = await createSession(duplexLink(socket, { transport: 'unix', address: socketPath }), {
          role: 'server',
        })
        sessions.push(session)
        for await (const channel of session) {
          void (async () => {
            for await (const message of channel as AsyncIterable<Message>) await head.send(message)
          })().catch(() => {})
        }
      })().catch(() => {}) // the session ends when the test aborts it
    })
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve))
    const ctx = context()
    const host = new Client(await backend.spawn(args(), ctx))
    try {
      const { instance: remote } = await host.attach(`unix://${socketPath}`)
      expect(await remote.get()).toEqual({ from: 'the remote swarmd' })
      expect(await remote.ls()).toEqual(['db', 'web'])
      await expect(host.attach(`unix://${join(sshd.dir, 'nobody-here.sock')}`)).rejects.toThrow(
        /could not open a tunnel to unix socket/,
      )
    } finally {
      ctx.abort()
      for (const session of sessions) session.abort()
      listener.close()
    }
  })

  it('authenticates through an ssh-agent', async () => {
    const agent = await sshd.startAgent()
    const ctx = context()
    const host = new Client(
      await backend.spawn([sshd.target, `--agent=${agent}`, `--known-hosts=${sshd.knownHosts}`], ctx),
    )
    try {
      const echo = (await host.connect(['--', 'echo', 'agent ok'])) as Duplex
      expect(await readUntil(echo, /agent ok/)).toBe('agent ok\n')
    } finally {
      ctx.abort()
    }
  })

  it('uses an encrypted key with its passphrase from the environment', async () => {
    process.env.LIBSWARM_TEST_PASSPHRASE = sshd.passphrase
    const ctx = context()
    try {
      const host = new Client(
        await backend.spawn(
          [
            sshd.target,
            `--identity=${sshd.encryptedKey}`,
            '--passphrase-env=LIBSWARM_TEST_PASSPHRASE',
            `--known-hosts=${sshd.knownHosts}`,
            '--no-agent',
          ],
          ctx,
        ),
      )
      const echo = (await host.connect(['--', 'echo', 'unlocked'])) as Duplex
      expect(await readUntil(echo, /unlocked/)).toBe('unlocked\n')
    } finally {
      ctx.abort()
      delete process.env.LIBSWARM_TEST_PASSPHRASE
    }
  })

  describe('clear errors', () => {
    async function firstUse(spawnArgs: string[]) {
      const ctx = context()
      const host = new Client(await backend.spawn(spawnArgs, ctx))
      try {
        return await host.connect(['--', 'true']).then(
          () => undefined,
          (error: Error & { code?: string }) => error,
        )
      } finally {
        ctx.abort()
      }
    }

    it('refused key', async () => {
      const error = await firstUse([
        sshd.target,
        `--identity=${sshd.strangerKey}`,
        `--known-hosts=${sshd.knownHosts}`,
        '--no-agent',
      ])
      expect(error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/refused authentication/),
      })
    })

    it('host key mismatch', async () => {
      const error = await firstUse([
        sshd.target,
        `--identity=${sshd.userKey}`,
        `--known-hosts=${sshd.wrongKnownHosts}`,
        '--no-agent',
      ])
      expect(error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/HOST KEY MISMATCH.*line 1/),
      })
    })

    it('unknown host refused by default, accepted and recorded with --accept-new-host-key', async () => {
      const fresh = join(sshd.dir, 'known_hosts_fresh')
      rmSync(fresh, { force: true })
      const base = [sshd.target, `--identity=${sshd.userKey}`, `--known-hosts=${fresh}`, '--no-agent']
      expect(await firstUse(base)).toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/unknown host.*--accept-new-host-key/),
      })
      expect(await firstUse([...base, '--accept-new-host-key'])).toBeUndefined()
      expect(readFileSync(fresh, 'utf8')).toBe(readFileSync(sshd.knownHosts, 'utf8'))
      expect(await firstUse(base)).toBeUndefined() // now known
      writeFileSync(fresh, '')
    })

    it('encrypted key without its passphrase', async () => {
      const error = await firstUse([
        sshd.target,
        `--identity=${sshd.encryptedKey}`,
        `--known-hosts=${sshd.knownHosts}`,
        '--no-agent',
      ])
      expect(error).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/\[adapter-ssh\] .*(passphrase|private key)/i),
      })
    })

    it('unreachable host', async () => {
      const error = await firstUse([
        `${sshd.user}@127.0.0.1:9`,
        `--identity=${sshd.userKey}`,
        `--known-hosts=${sshd.knownHosts}`,
        '--no-agent',
      ])
      expect(error).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/cannot reach .*127\.0\.0\.1:9 \(ECONNREFUSED\)/),
      })
    })

    it('bad arguments', async () => {
      await expect(async () => backend.spawn([], context())).rejects.toThrow(/missing the target/)
      await expect(async () => backend.spawn(['me@host:99999'], context())).rejects.toThrow(/bad target/)
      await expect(async () => backend.spawn(['me@host', '--bogus'], context())).rejects.toThrow(
        /unknown option "--bogus"/,
      )
    })
  })
})
