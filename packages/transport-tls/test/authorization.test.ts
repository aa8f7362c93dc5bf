import type { TlsIdentity } from '@libswarm/core/node'
import authorization from '@libswarm/transport-compliance/authorization'
import { hasOpenssl, makeCerts } from '@libswarm/transport-compliance/certs'
import { expect } from 'vitest'
import { tls } from '../src/index.ts'

const certs = hasOpenssl() ? makeCerts() : undefined
if (!certs && process.env.CI)
  throw new Error('[transport-tls] the openssl CLI is needed to make test certificates')
if (certs) {
  authorization({
    name: 'tls client certificates (mutual TLS)',
    transport: () => tls({ ca: certs.ca }),
    url: () => 'tls://127.0.0.1:0',
    listenOptions: { ...certs.server, requireClientCert: true },
    admin: { ...certs.client },
    other: { ...certs.otherClient },
    isAdmin: (peer) => (peer?.identity as TlsIdentity | undefined)?.subject.CN === 'worker-1',
    expectAdminIdentity: (identity) => {
      expect((identity as TlsIdentity).subject).toMatchObject({ CN: 'worker-1', O: 'swarm' })
      expect((identity as TlsIdentity).issuer.CN).toBe('libswarm test CA')
    },
  })
}
