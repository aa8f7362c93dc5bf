import tlsMatrix from '@libswarm/transport-compliance/tls'
import { http2 } from '../src/index.ts'

tlsMatrix({
  name: 'http2 (https://)',
  transport: () => http2(),
  url: 'https://127.0.0.1:0/swarm',
  listenOptions: (server, clientCa) => ({
    tls: { ...server, ca: clientCa, requestCert: clientCa !== undefined },
  }),
  dialOptions: (client) => ({ tls: client }),
})
