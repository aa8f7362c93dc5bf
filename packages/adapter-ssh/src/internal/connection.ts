import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import {
  abortErrorFrom,
  InvalidArgumentError,
  type LibswarmError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { type ClientChannel, type ConnectConfig, Client as SshClient } from 'ssh2'
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

/** One SSH connection, opened on first use and again after it drops. */
export class SshConnection {
  readonly options: SshOptions
  readonly port: number
  #client: Promise<SshClient> | undefined
  #closed = false

  constructor(options: SshOptions) {
    this.options = options
    this.port = options.port ?? 22
  }

  /** `user@host:port`, for messages. */
  get where(): string {
    return `${this.options.username}@${this.options.host}:${this.port}`
  }

  /** The connected client (connecting if needed). */
  client(): Promise<SshClient> {
    if (this.#closed)
      return Promise.reject(new UnavailableError(`${TAG} the connection to ${this.where} was closed`))
    this.#client ??= this.#connect().catch((error) => {
      this.#client = undefined
      throw error
    })
    return this.#client
  }

  #config(): { config: ConnectConfig; verdict: { value?: HostKeyVerdict; key?: Buffer } } {
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
    const config: ConnectConfig = {
      host: o.host,
      port: this.port,
      username: o.username,
      privateKey,
      passphrase: o.passphrase,
      agent,
      password: o.password,
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
    ;(config as { knownHostsPath?: string }).knownHostsPath = knownHosts
    return { config, verdict }
  }

  #connect(): Promise<SshClient> {
    const { config, verdict } = this.#config()
    const knownHosts = (config as { knownHostsPath?: string }).knownHostsPath!
    return new Promise<SshClient>((resolve, reject) => {
      const client = new SshClient()
      let ready = false
      client.once('ready', () => {
        ready = true
        resolve(client)
      })
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (ready) return // reported to the operation that was running; the next use reconnects
        reject(this.#error(error, verdict, knownHosts))
      })
      client.on('close', () => {
        if (!ready)
          reject(new UnavailableError(`${TAG} ${this.where} closed the connection during the handshake`))
        if (this.#client && ready) this.#client = undefined
      })
      try {
        client.connect(config)
      } catch (error) {
        // ssh2 throws at once for a key it cannot use (encrypted without a passphrase, garbage).
        const text = (error as Error).message
        reject(
          new InvalidArgumentError(
            `[adapter-ssh] cannot use the private key for ${this.where}: ${text}${/passphrase/i.test(text) ? '; give its passphrase with --passphrase-env=VAR' : ''}`,
            { cause: error },
          ),
        )
      }
    })
  }

  #error(
    error: Error & { level?: string; code?: string },
    verdict: { value?: HostKeyVerdict; key?: Buffer },
    knownHosts: string,
  ): LibswarmError {
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
    if (/private key|passphrase|parse/i.test(error.message)) {
      return new InvalidArgumentError(`${TAG} bad private key for ${this.where}: ${error.message}`, {
        cause: error,
      })
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

  /** Closes the connection; later calls fail. */
  async close(): Promise<void> {
    this.#closed = true
    const pending = this.#client
    this.#client = undefined
    if (!pending) return
    try {
      const client = await pending
      await new Promise<void>((resolve) => {
        client.once('close', () => resolve())
        client.end()
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
