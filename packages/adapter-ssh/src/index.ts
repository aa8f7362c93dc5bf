/**
 * @libswarm/adapter-ssh: a remote machine over SSH as a libswarm service.
 *
 * `ssh USER@HOST[:PORT]` connects with a key, an ssh-agent or a password, checking the host key
 * against known_hosts (on by default; `--accept-new-host-key` trusts a host seen for the first
 * time). Spawn runs a command there (each argument quoted for the remote shell, so metacharacters
 * pass unchanged), with Start / Stop / Get / Watch and its output lines as `Log`; Connect gives the
 * shell, a command's stdio, or a tunnel to a TCP port or a unix socket on the server (a remote swarmd
 * for a session to ride). File PATH writes its content (`att`) to PATH there over SFTP. `forwardPort`
 * is `ssh -L`.
 *
 * @example
 * import { Client, notImplemented } from '@libswarm/core'
 * import { backend } from '@libswarm/adapter-ssh'
 *
 * const controller = new AbortController()
 * const context = { out: notImplemented, signal: controller.signal, log: console.error,
 *   spawn: () => { throw new Error('not needed here') } }
 * const host = new Client(await backend.spawn(['deploy@10.0.0.5', '--identity=~/.ssh/id_ed25519'], context))
 * const job = await host.spawn(['sh', '-c', 'echo "$1"', 'sh', 'hello; $(not run)'])
 * await job.start()
 * console.log(await job.get()) // { state: 'running' | 'exited', exitCode, pid, ... }
 * controller.abort() // stops what it started and disconnects
 *
 * @packageDocumentation
 */
import type { Backend } from '@libswarm/core'
import { fromArgs, USAGE } from './internal/service.ts'

export { SshConnection, type SshOptions } from './internal/connection.ts'
export { type HostKeyVerdict, hostPattern, type KnownHost, readKnownHosts } from './internal/known-hosts.ts'
export { commandLine, quoteArg } from './internal/quote.ts'
export { type RemoteSwarmd, remoteSwarmd } from './internal/remote.ts'
export {
  type RemoteInfo,
  RemoteProc,
  type RemoteProcOptions,
  type RemoteState,
} from './internal/remote-proc.ts'
export { parseSshArgs, parseTarget, type SshServiceOptions, sshService, USAGE } from './internal/service.ts'
export { type ForwardPortOptions, forwardPort, type PortForward } from './internal/tunnel.ts'

/**
 * The `ssh` backend. Options (all optional):
 * - `--identity=FILE`: private key to use. Default: `~/.ssh/id_ed25519|id_ecdsa|id_rsa` when no agent.
 * - `--agent=SOCKET`: ssh-agent socket. Default: `$SSH_AUTH_SOCK`. `--no-agent` disables it.
 * - `--known-hosts=FILE`: host keys to check against. Default: `~/.ssh/known_hosts`.
 * - `--accept-new-host-key`: trust (and record) a host not in known_hosts. Default: refuse it.
 * - `--password-env=VAR`: password auth with the password in `$VAR` (also answered to a
 *   keyboard-interactive password prompt, as PAM asks). Default: none.
 * - `--passphrase-env=VAR`: passphrase of an encrypted key, from `$VAR`. Default: none.
 * - `--timeout=MS`: connect and handshake time limit. Default: 10000.
 */
export const backend: Backend = {
  name: 'ssh',
  summary: 'a remote machine over SSH: spawn commands, shells, files, TCP and unix-socket tunnels',
  usage: USAGE,
  capabilities: {
    verbs: ['Attach', 'Connect', 'File', 'Get', 'Ls', 'Spawn', 'Watch'],
    watch: true,
    connect: true,
    spawn: true,
    startStop: true,
  },
  spawn: (args, context) => fromArgs(args, context),
}
