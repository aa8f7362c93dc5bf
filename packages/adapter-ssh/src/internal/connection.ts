import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, posix } from 'node:path'
import type { Duplex, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  abortErrorFrom,
  InvalidArgumentError,
  type LibswarmError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { NodeSSH, type Config as NodeSshConfig, SSHError } from 'node-ssh'
import type { ClientChannel, SFTPWrapper, Client as SshClient } from 'ssh2'
import {
  addKnownHost,
  algorithmsFor,
  entriesFor,
  type HostKeyVerdict,
  hostPattern,
  keyType,
  readKnownHosts,
  verifyHostKey,
} from './known-hosts.ts'

/** How to reach and authenticate to one SSH server. */
export interface SshOptions {
  /** Host name or address. */
  host: string
  /** Default: 22. */
  port?: number
  /** Login user. */
  username: string
  /**
   * Private key files to offer, first readable one used. Default: `~/.ssh/id_ed25519`,
   * `~/.ssh/id_ecdsa`, `~/.ssh/id_rsa` (those that exist), unless an agent is used.
   */
  identityFiles?: string[]
  /** A private key's contents (PEM/OpenSSH), instead of a file. */
  privateKey?: string | Buffer
  /** Passphrase of an encrypted private key. */
  passphrase?: string
  /** An ssh-agent socket path. Default: `$SSH_AUTH_SOCK` when set. `false` disables the agent. */
  agent?: string | false
  /** A password (keyboard password auth). Default: none. */
  password?: string
  /** The known_hosts file that host keys are checked against. Default: `~/.ssh/known_hosts`. */
  knownHosts?: string
  /**
   * Accept a host that known_hosts does not list yet, and add its key there (OpenSSH's
   * `StrictHostKeyChecking=accept-new`). A changed key is still refused. Default: false.
   */
  acceptNewHostKey?: boolean
  /** Milliseconds to wait for the connection and handshake. Default: 10000. */
  readyTimeout?: number
}

const TAG = '[adapter-ssh]'

/**
 * One SSH connection, opened on first use and again after it drops. node-ssh sets it up (and answers
 * a server that asks for the password by keyboard-interactive, as PAM does); commands, shells,
 * tunnels and SFTP streams use its ssh2 connection directly.
 */
export class SshConnection {
  readonly options: SshOptions
  readonly port: number
  #ssh: Promise<NodeSSH> | undefined
  #closed = false

  constructor(options: SshOptions) {
    this.options = options
    this.port = options.port ?? 22
  }

  /** `user@host:port`, for messages. */
  get where(): string {
    return `${this.options.username}@${this.options.host}:${this.port}`
  }

  /** The connected ssh2 client (connecting if needed). */
  async client(): Promise<SshClient> {
    return (await this.#session()).connection!
  }

  /** The connected node-ssh session: connects on first use, and again once the connection dropped. */
  async #session(): Promise<NodeSSH> {
    if (this.#closed) throw new UnavailableError(`${TAG} the connection to ${this.where} was closed`)
    const current = this.#ssh
    if (current) {
      const ssh = await current
      if (ssh.isConnected()) return ssh // node-ssh forgets the connection when it ends
      if (this.#ssh === current) this.#ssh = undefined
    }
    this.#ssh ??= this.#connect().catch((error) => {
      this.#ssh = undefined
      throw error
    })
    return this.#ssh
  }

  #config(): {
    config: NodeSshConfig
    verdict: { value?: HostKeyVerdict; key?: Buffer }
    knownHosts: string
  } {
    const o = this.options
    const knownHosts = o.knownHosts ?? join(homedir(), '.ssh', 'known_hosts')
    const entries = readKnownHosts(knownHosts)
    const verdict: { value?: HostKeyVerdict; key?: Buffer } = {}
    const agent = o.agent === false ? undefined : (o.agent ?? process.env.SSH_AUTH_SOCK)
    let privateKey = o.privateKey
    if (privateKey === undefined) {
      const files =
        o.identityFiles ??
        (agent
          ? []
          : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).filter(existsSync))
      for (const file of files) {
        try {
          privateKey = readFileSync(file)
          break
        } catch (error) {
          throw new InvalidArgumentError(
            `${TAG} cannot read identity file ${file}: ${(error as Error).message}`,
          )
        }
      }
    }
    if (privateKey === undefined && !agent && o.password === undefined) {
      throw new InvalidArgumentError(
        `${TAG} no way to authenticate to ${this.where}: give --identity=FILE, run an ssh-agent (SSH_AUTH_SOCK) or set a password`,
      )
    }
    const serverHostKey = algorithmsFor(entriesFor(entries, o.host, this.port))
    const config: NodeSshConfig = {
      host: o.host,
      port: this.port,
      username: o.username,
      privateKey: privateKey?.toString(),
      passphrase: o.passphrase,
      agent,
      password: o.password,
      // A server may take the password only as the answer to a keyboard-interactive prompt (PAM).
      tryKeyboard: o.password !== undefined,
      readyTimeout: o.readyTimeout ?? 10_000,
      keepaliveInterval: 15_000,
      algorithms: serverHostKey ? { serverHostKey: serverHostKey as never } : undefined,
      hostVerifier: (key: Buffer) => {
        verdict.key = key
        verdict.value = verifyHostKey(entries, o.host, this.port, key)
        if (verdict.value.status === 'match') return true
        if (verdict.value.status === 'unknown' && o.acceptNewHostKey) {
          addKnownHost(knownHosts, o.host, this.port, key)
          return true
        }
        return false
      },
    }
    return { config, verdict, knownHosts }
  }

  async #connect(): Promise<NodeSSH> {
    const { config, verdict, knownHosts } = this.#config()
    const ssh = new NodeSSH()
    try {
      await ssh.connect(config)
    } catch (error) {
      ssh.dispose()
      throw this.#error(error as Error, verdict, knownHosts)
    }
    // node-ssh stops listening for errors once the connection is ready. A later one (the server went
    // away) is reported to the operation that was running; the next use connects again.
    ssh.connection!.on('error', () => {})
    return ssh
  }

  #error(
    error: Error & { level?: string; code?: string | null },
    verdict: { value?: HostKeyVerdict; key?: Buffer },
    knownHosts: string,
  ): LibswarmError {
    if (error instanceof SSHError) {
      // node-ssh's "No response from server": the server closed the connection before it was ready.
      return new UnavailableError(`${TAG} ${this.where} closed the connection during the handshake`, {
        cause: error,
      })
    }
    const v = verdict.value
    const fingerprint = verdict.key
      ? `${keyType(verdict.key)} ${verdict.key.toString('base64').slice(-16)}`
      : ''
    if (v?.status === 'mismatch') {
      const lines = v.entries.map((e) => e.line).join(', ')
      return new UnauthorizedError(
        `${TAG} HOST KEY MISMATCH for ${hostPattern(this.options.host, this.port)}: it presented ${fingerprint}, ` +
          `which is not the key on line ${lines} of ${knownHosts}. Someone may be intercepting the connection; ` +
          `if the host's key changed on purpose, remove that line and connect again`,
        { cause: error },
      )
    }
    if (v?.status === 'revoked') {
      return new UnauthorizedError(
        `${TAG} the host key of ${this.where} is marked @revoked on line ${v.entry.line} of ${knownHosts}`,
        { cause: error },
      )
    }
    if (v?.status === 'unknown') {
      return new UnauthorizedError(
        `${TAG} unknown host ${hostPattern(this.options.host, this.port)} (key ${fingerprint}): it is not in ${knownHosts}. ` +
          `Add its key there, or pass --accept-new-host-key to trust it on first use`,
        { cause: error },
      )
    }
    if (error.level === 'client-authentication') {
      const tried = [
        this.options.privateKey !== undefined || this.options.identityFiles?.length
          ? 'public key'
          : undefined,
        this.options.agent !== false && (this.options.agent ?? process.env.SSH_AUTH_SOCK)
          ? 'agent'
          : undefined,
        this.options.password !== undefined ? 'password' : undefined,
      ].filter(Boolean)
      return new UnauthorizedError(
        `${TAG} ${this.where} refused authentication (tried: ${tried.join(', ') || 'default keys'}); ` +
          `check the user name, that the key is in the server's authorized_keys, or the agent's keys`,
        { cause: error },
      )
    }
    if (error.level === 'client-timeout') {
      return new UnavailableError(`${TAG} timed out connecting to ${this.where}; check the host and port`, {
        cause: error,
      })
    }
    if (
      error.code &&
      /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET/.test(error.code)
    ) {
      return new UnavailableError(
        `${TAG} cannot reach ${this.where} (${error.code}); check the host, the port and that sshd runs`,
        { cause: error },
      )
    }
    if (/private ?key|passphrase|parse/i.test(error.message)) {
      // ssh2 cannot use the key (encrypted without a passphrase, garbage).
      return new InvalidArgumentError(
        `${TAG} cannot use the private key for ${this.where}: ${error.message}${/passphrase/i.test(error.message) ? '; give its passphrase with --passphrase-env=VAR' : ''}`,
        { cause: error },
      )
    }
    return new UnavailableError(`${TAG} SSH connection to ${this.where} failed: ${error.message}`, {
      cause: error,
    })
  }

  /** Runs a command line (already quoted) and gives its channel. */
  async exec(command: string, signal?: AbortSignal): Promise<ClientChannel> {
    const client = await this.client()
    if (signal?.aborted) throw abortErrorFrom(signal)
    return new Promise((resolve, reject) =>
      client.exec(command, (error, channel) =>
        error
          ? reject(
              new UnavailableError(`${TAG} ${this.where} refused to run a command: ${error.message}`, {
                cause: error,
              }),
            )
          : resolve(channel),
      ),
    )
  }

  /** Opens the login shell (no terminal) as a byte stream. */
  async shell(): Promise<ClientChannel> {
    const client = await this.client()
    return new Promise((resolve, reject) =>
      client.shell(false, (error, channel) =>
        error
          ? reject(
              new UnavailableError(`${TAG} ${this.where} refused a shell: ${error.message}`, {
                cause: error,
              }),
            )
          : resolve(channel),
      ),
    )
  }

  /** A byte stream to `host:port` as seen from the SSH server (like `ssh -W host:port`). */
  async forwardTcp(host: string, port: number): Promise<Duplex> {
    const client = await this.client()
    return new Promise((resolve, reject) =>
      client.forwardOut('127.0.0.1', 0, host, port, (error, channel) =>
        error
          ? reject(
              new UnavailableError(
                `${TAG} ${this.where} could not open a tunnel to ${host}:${port}: ${error.message} (is it listening there, and does sshd allow TCP forwarding?)`,
                { cause: error },
              ),
            )
          : resolve(channel),
      ),
    )
  }

  /** A byte stream to a unix socket on the SSH server (OpenSSH streamlocal forwarding). */
  async forwardUnix(path: string): Promise<Duplex> {
    const client = await this.client()
    return new Promise((resolve, reject) =>
      client.openssh_forwardOutStreamLocal(path, (error, channel) =>
        error
          ? reject(
              new UnavailableError(
                `${TAG} ${this.where} could not open a tunnel to unix socket ${path}: ${error.message} (does it exist there, and does sshd allow stream-local forwarding?)`,
                { cause: error },
              ),
            )
          : resolve(channel),
      ),
    )
  }

  /**
   * Writes `content` to `path` on the server over SFTP (the File verb): into a temporary file next to
   * it, renamed over `path` once complete, so a transfer that fails leaves `path` as it was.
   */
  async writeFile(path: string, content: Readable, signal?: AbortSignal): Promise<void> {
    const ssh = await this.#session()
    let sftp: SFTPWrapper
    try {
      sftp = await ssh.requestSFTP()
    } catch (error) {
      throw new UnavailableError(
        `${TAG} ${this.where} refused an SFTP session: ${(error as Error).message} (is the sftp subsystem enabled in its sshd_config?)`,
        { cause: error },
      )
    }
    const partial = posix.join(
      posix.dirname(path),
      `.${posix.basename(path)}.${randomBytes(4).toString('hex')}.part`,
    )
    const call = (run: (done: (error?: Error | null) => void) => void) =>
      new Promise<void>((resolve, reject) => run((error) => (error ? reject(error) : resolve())))
    try {
      await pipeline(content, sftp.createWriteStream(partial), { signal })
      // POSIX rename replaces `path` in one step (OpenSSH's extension); plain SFTP rename refuses to.
      await call((done) => sftp.ext_openssh_rename(partial, path, done)).catch(async (error: Error) => {
        if (!/not support/i.test(error.message)) throw error
        await call((done) => sftp.unlink(path, () => done()))
        await call((done) => sftp.rename(partial, path, done))
      })
    } catch (error) {
      await call((done) => sftp.unlink(partial, () => done()))
      if (signal?.aborted) throw abortErrorFrom(signal)
      throw sftpError(error as Error & { code?: unknown }, path, this.where)
    } finally {
      sftp.end()
    }
  }

  /** Closes the connection; later calls fail. */
  async close(): Promise<void> {
    this.#closed = true
    const pending = this.#ssh
    this.#ssh = undefined
    if (!pending) return
    try {
      const ssh = await pending
      const client = ssh.connection
      if (!client) return
      await new Promise<void>((resolve) => {
        client.once('close', () => resolve())
        ssh.dispose()
        setTimeout(resolve, 1000).unref()
      })
    } catch {
      // never connected
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** An SFTP failure as a libswarm error (status codes of the SFTP protocol, draft 02). */
function sftpError(error: Error & { code?: unknown }, path: string, where: string): LibswarmError {
  const text = `${TAG} File ${path} on ${where}: ${error.message}`
  if (error.code === 2) return new NotFoundError(`${text} (does its directory exist?)`, { cause: error })
  if (error.code === 3)
    return new UnauthorizedError(`${text} (no permission to write there)`, { cause: error })
  return new UnavailableError(text, { cause: error })
}
