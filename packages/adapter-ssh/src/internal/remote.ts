import {
  createSession,
  duplexLink,
  type Message,
  type Service,
  type Session,
  UnavailableError,
} from '@libswarm/core'
import type { SshConnection } from './connection.ts'

/** A session to a swarmd on the SSH server, riding the SSH connection. */
export interface RemoteSwarmd {
  /** The remote swarmd's head service: send it Messages as to any service. */
  head: Service
  session: Session
  /** Ends the session (and the tunnel under it). */
  close(): Promise<void>
}

/**
 * Opens a libswarm session to a swarmd listening on a unix socket on the SSH server
 * (`swarmd --listen unix:///run/swarmd.sock`), through the SSH connection (OpenSSH stream-local
 * forwarding), and opens the channel a swarmd serves its pipeline's head on. The local equivalent of
 * `remote unix:///run/swarmd.sock`, run on the far machine.
 */
export async function remoteSwarmd(
  connection: SshConnection,
  socketPath: string,
  options: { signal?: AbortSignal } = {},
): Promise<RemoteSwarmd> {
  const stream = await connection.forwardUnix(socketPath)
  let session: Session
  try {
    session = await createSession(
      duplexLink(stream, { transport: 'ssh', address: `${connection.where}:${socketPath}` }),
      {
        role: 'client',
        signal: options.signal,
      },
    )
  } catch (error) {
    stream.destroy()
    throw new UnavailableError(
      `[adapter-ssh] no libswarm session at ${socketPath} on ${connection.where}: ${(error as Error).message} (is a swarmd listening there?)`,
      { cause: error },
    )
  }
  const head = session.open<Message>() as Service
  return {
    head,
    session,
    close: async () => {
      await session.close().catch(() => {})
      stream.destroy()
    },
  }
}
