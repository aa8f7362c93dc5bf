/**
 * Test harness: a real OpenSSH sshd on a free loopback port in a temp dir, with generated host and
 * user keys, an authorized_keys file and a matching known_hosts file. Optionally an ssh-agent.
 * Everything is stopped by PID.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

const SSHD = '/usr/sbin/sshd'

/** Why the integration tests cannot run, or undefined. Under CI a missing sshd fails instead. */
export function sshdMissing(): string | undefined {
  const missing = [SSHD, 'ssh-keygen', 'ssh-agent', 'ssh-add'].filter(
    (bin) => spawnSync(bin, ['-?']).error !== undefined,
  )
  if (missing.length === 0) return undefined
  const reason = `OpenSSH is not installed (missing ${missing.join(', ')}; apt-get install openssh-server openssh-client)`
  if (process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`)
  return reason
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function keygen(path: string, passphrase = ''): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'libswarm-test', '-f', path])
  return readFileSync(`${path}.pub`, 'utf8').trim()
}

/** A running sshd with its keys. */
export class Sshd {
  readonly dir = mkdtempSync(join(tmpdir(), 'libswarm-sshd-'))
  readonly user = userInfo().username
  port = 0
  /** The user's private key (authorized). */
  readonly userKey = join(this.dir, 'id_user')
  /** An authorized key encrypted with {@link Sshd.passphrase}. */
  readonly encryptedKey = join(this.dir, 'id_encrypted')
  readonly passphrase = 'open sesame'
  /** A key the server does not accept. */
  readonly strangerKey = join(this.dir, 'id_stranger')
  /** known_hosts listing the server's real key. */
  readonly knownHosts = join(this.dir, 'known_hosts')
  /** known_hosts listing a different key for the server. */
  readonly wrongKnownHosts = join(this.dir, 'known_hosts_wrong')
  private child: ChildProcess | undefined
  private agent: ChildProcess | undefined

  /** sshd_config lines that come first (sshd takes the first value of each keyword). */
  private config: readonly string[] = []

  static async start(options: { config?: readonly string[] } = {}): Promise<Sshd> {
    const sshd = new Sshd()
    sshd.config = options.config ?? []
    await sshd.run()
    return sshd
  }

  /** `user@127.0.0.1:port`. */
  get target(): string {
    return `${this.user}@127.0.0.1:${this.port}`
  }

  private async run(): Promise<void> {
    // sshd started as root wants its privilege-separation dir; as another user it does not need it.
    if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true })
    const hostPub = keygen(join(this.dir, 'host_key'))
    const otherPub = keygen(join(this.dir, 'other_host_key'))
    writeFileSync(
      join(this.dir, 'authorized_keys'),
      `${keygen(this.userKey)}\n${keygen(this.encryptedKey, this.passphrase)}\n`,
    )
    keygen(this.strangerKey)
    // The port can be taken between the check and sshd's bind (other tests open sockets all the
    // time): then try another one.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.listenOnFreePort(hostPub, otherPub)
        return
      } catch (error) {
        if (attempt >= 5 || !/Address already in use/.test(String(error))) throw error
      }
    }
  }

  private async listenOnFreePort(hostPub: string, otherPub: string): Promise<void> {
    this.port = await freePort()
    const [type, blob] = hostPub.split(' ')
    const [otherType, otherBlob] = otherPub.split(' ')
    writeFileSync(this.knownHosts, `[127.0.0.1]:${this.port} ${type} ${blob}\n`)
    writeFileSync(this.wrongKnownHosts, `[127.0.0.1]:${this.port} ${otherType} ${otherBlob}\n`)
    const config = join(this.dir, 'sshd_config')
    writeFileSync(
      config,
      [
        ...this.config,
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(this.dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        `PidFile ${join(this.dir, 'sshd.pid')}`,
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    )
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)))
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr}`)
      if (await this.banner()) return
    }
    throw new Error(`sshd did not answer on port ${this.port} within 5 s: ${stderr}`)
  }

  private banner(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1')
      const done = (ok: boolean) => {
        clearTimeout(timer)
        socket.destroy()
        resolve(ok)
      }
      const timer = setTimeout(() => done(false), 200)
      socket.once('data', (chunk) => done(chunk.toString().startsWith('SSH-')))
      socket.once('error', () => setTimeout(() => done(false), 50))
    })
  }

  /** Starts an ssh-agent holding the user's key; returns its socket path. */
  async startAgent(): Promise<string> {
    const socket = join(this.dir, 'agent.sock')
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' })
    this.agent = agent
    const deadline = Date.now() + 5000
    for (;;) {
      const added = spawnSync('ssh-add', [this.userKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } })
      if (added.status === 0) return socket
      if (Date.now() > deadline || agent.exitCode !== null) {
        throw new Error(`ssh-agent did not take the key: ${added.stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async stop(): Promise<void> {
    for (const child of [this.agent, this.child]) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      process.kill(child.pid!, 'SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Why a system user cannot be made for a test here, or undefined. Under CI it fails instead. */
export function systemUserMissing(): string | undefined {
  const missing = ['useradd', 'userdel', 'chpasswd'].filter(
    (bin) => spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status !== 0,
  )
  const reason =
    missing.length > 0
      ? `cannot make a test user: missing ${missing.join(', ')} (Debian package passwd)`
      : process.getuid?.() !== 0
        ? 'making a test user with a password needs root (useradd)'
        : undefined
  if (reason && process.env.CI) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`)
  return reason
}

/** A local user with a random password, made for a test and removed by {@link SystemUser.remove}. */
export class SystemUser {
  private constructor(
    readonly name: string,
    readonly password: string,
  ) {}

  static create(): SystemUser {
    const suffix = randomBytes(4).toString('hex')
    const user = new SystemUser(`libswarm-pw-${suffix}`, `pw ${randomBytes(12).toString('base64')}`)
    execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', user.name], { stdio: 'pipe' })
    try {
      execFileSync('chpasswd', { input: `${user.name}:${user.password}\n`, stdio: ['pipe', 'pipe', 'pipe'] })
    } catch (error) {
      user.remove()
      throw error
    }
    return user
  }

  /** Removes the user and its home directory (also while a session of it still runs). */
  remove(): void {
    const result = spawnSync('userdel', ['--force', '--remove', this.name], { encoding: 'utf8' })
    // userdel exits 12 when only the mail spool was missing; the user is gone then too.
    if (result.status !== 0 && result.status !== 12) {
      throw new Error(`userdel ${this.name} failed (${result.status}): ${result.stderr}`)
    }
  }
}
