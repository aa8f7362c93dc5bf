import { InvalidArgumentError, type Transport } from '@libswarm/core'

/** Which package and factory serve each URL scheme. swarmd depends on all five packages. */
const BY_SCHEME: Record<string, { pkg: string; factory: string }> = {
  tcp: { pkg: '@libswarm/transport-tcp', factory: 'tcp' },
  unix: { pkg: '@libswarm/transport-unix', factory: 'unix' },
  tls: { pkg: '@libswarm/transport-tls', factory: 'tls' },
  http2: { pkg: '@libswarm/transport-http2', factory: 'http2' },
  https: { pkg: '@libswarm/transport-http2', factory: 'http2' },
  ws: { pkg: '@libswarm/transport-websocket', factory: 'websocket' },
  wss: { pkg: '@libswarm/transport-websocket', factory: 'websocket' },
}

/** The URL schemes swarmd can listen on and dial. */
export const SCHEMES = Object.keys(BY_SCHEME)

/** Schemes that run over TLS: listening on them needs a certificate and its key. */
export const TLS_SCHEMES = ['tls', 'https', 'wss']

/** Certificate material (PEM contents) and the bearer token, from swarmd's flags. */
export interface Security {
  cert?: Buffer
  key?: Buffer
  ca?: Buffer
  token?: string
}

/**
 * The options each transport factory takes for `security`. A listener given a CA requires client
 * certificates signed by it (mutual TLS); a dialer trusts it. The token is both what a listener
 * requires (`serverToken`) and what a dialer sends (`token`).
 */
function optionsFor(scheme: string, security: Security): Record<string, unknown> {
  const { cert, key, ca, token } = security
  const mutual = ca !== undefined && cert !== undefined
  switch (scheme) {
    case 'tls':
      return { cert, key, ca, requireClientCert: mutual }
    case 'https':
    case 'wss':
      return { tls: { cert, key, ca, requestCert: mutual }, token, serverToken: token }
    case 'http2':
    case 'ws':
      return { token, serverToken: token }
    default:
      return {}
  }
}

/**
 * The transport for `url`'s scheme, loaded on first use (so swarmd starts fast and a broken
 * transport only matters to URLs that need it). InvalidArgumentError for an unknown scheme.
 */
export async function transportFor(url: URL, security: Security = {}): Promise<Transport> {
  const scheme = url.protocol.replace(/:$/, '')
  const entry = BY_SCHEME[scheme]
  if (!entry) {
    throw new InvalidArgumentError(
      `swarmd has no transport for "${scheme}://" URLs; use one of ${SCHEMES.map((s) => `${s}://`).join(', ')}`,
    )
  }
  let mod: Record<string, unknown>
  try {
    mod = (await import(entry.pkg)) as Record<string, unknown>
  } catch (error) {
    throw new InvalidArgumentError(
      `cannot load ${entry.pkg} for ${scheme}:// URLs (${error instanceof Error ? error.message : String(error)}); reinstall swarmd or run: npm install ${entry.pkg}`,
    )
  }
  const factory = mod[entry.factory]
  if (typeof factory !== 'function')
    throw new InvalidArgumentError(`${entry.pkg} does not export ${entry.factory}()`)
  return (factory as (options: Record<string, unknown>) => Transport)(optionsFor(scheme, security))
}
