import { isIP, type Socket } from 'node:net'
import {
  type ConnectionOptions,
  createServer,
  type TlsOptions as NodeTlsOptions,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls'
import {
  type DialOptions,
  InvalidArgumentError,
  type LibswarmError,
  type Link,
  type LinkListener,
  type ListenOptions,
  type PeerInfo,
  type Transport,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import {
  connectTimeoutError,
  dialError,
  formatAddress,
  formatUrl,
  listenError,
  parseHostPort,
  QueueListener,
  serverCertError,
  socketLink,
  socketReady,
  type TlsIdentity,
  throwIfAborted,
  tlsIdentity,
} from '@libswarm/core/node'

const PKG = 'transport-tls'

/** PEM text or bytes, or a list of them. */
export type Pem = string | Buffer | Array<string | Buffer>

/**
 * Options of {@link tls}. Each may also be given per call in `dial`/`listen` options (for example
 * through `connect(url, { dialOptions })`), which take precedence.
 */
export interface TlsOptions {
  /**
   * CA certificates to trust (PEM). A dialer checks the server's certificate against them; a
   * listener with `requireClientCert` checks client certificates against them. Default: Node's
   * built-in public CAs (dialer); required for `requireClientCert`.
   */
  ca?: Pem
  /** This side's certificate chain (PEM). Required to listen; a dialer sends it for mutual TLS. */
  cert?: Pem
  /** The private key of `cert` (PEM). */
  key?: Pem
  /** Passphrase of an encrypted `key`. */
  passphrase?: string
  /** Listener: require and verify a client certificate (mutual TLS). Default: `false`. */
  requireClientCert?: boolean
  /**
   * Dialer: the host name to verify the server certificate against (and to send as SNI). Default:
   * the URL's host.
   */
  servername?: string
  /**
   * Verify the peer's certificate. Turning this off accepts any server (for a one-off debugging
   * session only: it gives up all protection against impostors). Default: `true`.
   */
  rejectUnauthorized?: boolean
  /** Lowest TLS version accepted. Default: `'TLSv1.2'`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Give up a dial (TCP connect plus TLS handshake) after this many milliseconds. Default: `10000`. */
  connectTimeout?: number
  /** Listener: drop a connection whose TLS handshake takes longer than this. Default: `10000`. */
  handshakeTimeout?: number
  /** Disable Nagle's algorithm. Default: `true`. */
  noDelay?: boolean
  /**
   * Listener: called when a connection is refused during the TLS handshake (a missing, expired or
   * untrusted client certificate, a client that does not speak TLS). Default: ignore.
   */
  onRefused?: (error: LibswarmError, peer: PeerInfo) => void
}

export type { TlsIdentity }

const ALPN = ['libswarm/1']

function merged(base: TlsOptions, call: Record<string, unknown>): TlsOptions {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(call)) if (value !== undefined) out[key] = value
  return out as TlsOptions
}

function timeoutOption(name: string, value: unknown): number {
  if (value === undefined) return 10_000
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`[${PKG}] option "${name}" must be a non-negative number of milliseconds`)
  }
  return value
}

/** Describes a TLS alert or failure reported by the other side (or a handshake that broke). */
function alertError(who: string, target: string, error: NodeJS.ErrnoException): LibswarmError | undefined {
  const code = error.code ?? ''
  const message = error.message
  if (/CERTIFICATE_REQUIRED|PEER_DID_NOT_RETURN_A_CERTIFICATE/i.test(code + message)) {
    return new UnauthorizedError(
      who === 'server'
        ? `[${PKG}] the server at ${target} requires a client certificate; give one in options "cert" and "key"`
        : `[${PKG}] refused a client from ${target}: it sent no client certificate (mutual TLS is required)`,
      { cause: error },
    )
  }
  if (
    /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED)/i.test(
      code,
    )
  ) {
    return new UnauthorizedError(
      `[${PKG}] the server at ${target} refused this client's certificate (${code.replace(/^ERR_SSL_/, '').toLowerCase()}); check that it is signed by a CA the server trusts and has not expired`,
      { cause: error },
    )
  }
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG/i.test(code)) {
    return new UnavailableError(
      who === 'server'
        ? `[${PKG}] the server at ${target} does not speak TLS (${code}); check the scheme (tcp:// vs tls://) and the port`
        : `[${PKG}] a client from ${target} does not speak TLS (${code})`,
      { cause: error },
    )
  }
  return undefined
}

function clientCertRefusal(peerAddress: string, error: NodeJS.ErrnoException): LibswarmError {
  const code = error.code ?? ''
  const known = alertError('client', peerAddress, error)
  if (known) return known
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return new UnauthorizedError(
        `[${PKG}] refused a client from ${peerAddress}: its certificate has expired`,
        {
          cause: error,
        },
      )
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return new UnauthorizedError(
        `[${PKG}] refused a client from ${peerAddress}: its certificate is not signed by a CA in this listener's "ca" (${code})`,
        { cause: error },
      )
  }
  return new UnauthorizedError(
    `[${PKG}] refused a client from ${peerAddress} during the TLS handshake: ${error.message}`,
    { cause: error },
  )
}

/**
 * The TLS transport: `tls://host:port`, server-authenticated or mutual TLS. Certificate checks are
 * on by default; a listener with `requireClientCert` refuses clients without a certificate signed by
 * its `ca`, and `peer.identity` ({@link TlsIdentity}) carries the verified client certificate.
 *
 * @example
 * import { readFileSync } from 'node:fs'
 * import { connect } from '@libswarm/core'
 * import { tls } from '@libswarm/transport-tls'
 * const session = await connect('tls://swarm.example:5001', {
 *   transports: [tls({ ca: readFileSync('ca.pem'), cert: readFileSync('me.pem'), key: readFileSync('me.key') })],
 * })
 */
export function tls(options: TlsOptions = {}): Transport {
  return {
    name: 'tls',
    schemes: ['tls'],
    async dial(url: URL, callOptions: DialOptions = {}): Promise<Link> {
      const { host, port } = parseHostPort(PKG, url, ['tls'])
      const o = merged(options, callOptions)
      const connectTimeout = timeoutOption('connectTimeout', o.connectTimeout)
      const target = `tls://${formatAddress(host, port)}`
      const signal = callOptions.signal
      throwIfAborted(signal)
      const servername = o.servername ?? host
      const connectOptions: ConnectionOptions = {
        host,
        port,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        passphrase: o.passphrase,
        rejectUnauthorized: o.rejectUnauthorized ?? true,
        minVersion: o.minVersion ?? 'TLSv1.2',
        ALPNProtocols: ALPN,
        // Half-close like the other transports (node:tls passes it on; its types omit it).
        ...({ allowHalfOpen: true } as object),
      }
      // SNI must be a name, not an address. Without it Node checks the certificate against `host`,
      // which covers addresses (IP subjectAltNames).
      if (isIP(servername) === 0) connectOptions.servername = servername
      const socket = tlsConnect(connectOptions)
      await socketReady(socket as unknown as Socket, 'secureConnect', {
        signal,
        timeout: connectTimeout,
        describe: (error) =>
          serverCertError(error, { pkg: PKG, target, host: servername }) ??
          alertError('server', target, error) ??
          dialError(PKG, target, error),
        timeoutError: () => connectTimeoutError(PKG, target, connectTimeout),
      })
      socket.setNoDelay(o.noDelay ?? true)
      const address = formatAddress(socket.remoteAddress, socket.remotePort)
      const peer: PeerInfo = { transport: 'tls', address }
      // With TLS 1.3 the server checks our certificate after our side of the handshake is done;
      // a server that refuses it sends an alert or just closes before saying anything.
      const offeredCert = o.cert !== undefined
      return socketLink(
        socket as unknown as Socket,
        peer,
        (error) =>
          alertError('server', target, error as NodeJS.ErrnoException) ??
          new UnavailableError(`[${PKG}] the connection with ${target} failed: ${error.message}`, {
            cause: error,
          }),
        () =>
          new UnauthorizedError(
            offeredCert
              ? `[${PKG}] the server at ${target} closed the connection right after the TLS handshake: it refused this client's certificate; check that it is signed by a CA the server trusts and has not expired`
              : `[${PKG}] the server at ${target} closed the connection right after the TLS handshake: it requires a client certificate; give one in options "cert" and "key"`,
          ),
      )
    },

    async listen(url: URL, callOptions: ListenOptions = {}): Promise<LinkListener> {
      const { host, port } = parseHostPort(PKG, url, ['tls'])
      const o = merged(options, callOptions)
      const handshakeTimeout = timeoutOption('handshakeTimeout', o.handshakeTimeout)
      const { signal, authenticate } = callOptions
      throwIfAborted(signal)
      if (o.cert === undefined || o.key === undefined) {
        throw new InvalidArgumentError(
          `[${PKG}] listening needs a certificate and its key: pass options "cert" and "key" (PEM)`,
        )
      }
      const mutual = o.requireClientCert ?? false
      if (mutual && o.ca === undefined) {
        throw new InvalidArgumentError(
          `[${PKG}] "requireClientCert" needs option "ca": the CA certificates that sign accepted client certificates`,
        )
      }
      const serverOptions: NodeTlsOptions = {
        cert: o.cert,
        key: o.key,
        passphrase: o.passphrase,
        ca: o.ca,
        requestCert: mutual,
        // Client certificates are checked below, on 'secureConnection', so that a refusal says why.
        rejectUnauthorized: false,
        minVersion: o.minVersion ?? 'TLSv1.2',
        ALPNProtocols: ALPN,
        handshakeTimeout,
        allowHalfOpen: true,
      }
      let server: ReturnType<typeof createServer>
      try {
        server = createServer(serverOptions)
      } catch (error) {
        throw new InvalidArgumentError(
          `[${PKG}] the listener's certificate, key or ca cannot be used: ${(error as Error).message}`,
          { cause: error },
        )
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(listenError(PKG, `tls://${formatAddress(host, port)}`, error)))
        server.listen({ host, port }, () => resolve())
      })
      const bound = server.address()
      const realPort = typeof bound === 'object' && bound !== null ? bound.port : port
      const listener = new QueueListener(formatUrl('tls', host, realPort), async () => {
        signal?.removeEventListener('abort', onAbort)
        server.close()
      })
      const onAbort = () => void listener.close()
      signal?.addEventListener('abort', onAbort, { once: true })
      server.on('error', () => void listener.close())
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
        const address = formatAddress(socket.remoteAddress, socket.remotePort)
        o.onRefused?.(clientCertRefusal(address, error), { transport: 'tls', address })
      })
      const verifyClients = mutual && (o.rejectUnauthorized ?? true)
      server.on('secureConnection', (socket: TLSSocket) => {
        socket.setNoDelay(o.noDelay ?? true)
        const address = formatAddress(socket.remoteAddress, socket.remotePort)
        if (verifyClients && !socket.authorized) {
          const cert = socket.getPeerCertificate()
          const code =
            cert && Object.keys(cert).length > 0 ? String(socket.authorizationError ?? 'UNKNOWN') : 'NO_CERT'
          const error =
            code === 'NO_CERT'
              ? Object.assign(new Error('peer did not return a certificate'), {
                  code: 'PEER_DID_NOT_RETURN_A_CERTIFICATE',
                })
              : Object.assign(new Error(`client certificate rejected: ${code}`), { code })
          socket.on('error', () => {})
          socket.destroy()
          o.onRefused?.(clientCertRefusal(address, error), { transport: 'tls', address })
          return
        }
        const identity = mutual ? tlsIdentity(socket) : undefined
        const peer: PeerInfo = identity
          ? { transport: 'tls', address, identity }
          : { transport: 'tls', address }
        const link = socketLink(
          socket as unknown as Socket,
          peer,
          (error) =>
            new UnavailableError(`[${PKG}] the connection with ${address} failed: ${error.message}`, {
              cause: error,
            }),
        )
        listener.admit(link, authenticate)
      })
      return listener
    },
  }
}
