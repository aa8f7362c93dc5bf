import tlsMatrix from '@libswarm/transport-compliance/tls'
import { tls } from '../src/index.ts'

tlsMatrix({
  name: 'tls (tls://)',
  transport: () => tls(),
  url: 'tls://127.0.0.1:0',
  listenOptions: (server, clientCa) => ({
    ...server,
    ca: clientCa,
    requireClientCert: clientCa !== undefined,
  }),
  dialOptions: (client) => ({ ...client }),
})
