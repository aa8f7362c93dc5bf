import compliance from '@libswarm/transport-compliance'
import { tls } from '../src/index.ts'
import { hasOpenssl, makeCerts } from './certs.ts'

const certs = hasOpenssl() ? makeCerts() : undefined
if (!certs && process.env.CI)
  throw new Error('[transport-tls] the openssl CLI is needed to make test certificates')
if (certs) {
  compliance({
    name: 'tls',
    transport: () => tls({ ...certs.server, ca: certs.ca, requireClientCert: true }),
    dialOptions: { cert: certs.client.cert, key: certs.client.key },
    url: () => 'tls://127.0.0.1:0',
  })
}
