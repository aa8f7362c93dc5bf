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
  skip: [
    {
      reason:
        'peer.identity does not carry the client certificate in @libswarm/transport-http2 yet (mutual TLS identity is being added)',
      tests: ['mutual TLS > a verified client certificate shows in the server session peer.identity'],
    },
  ],
})
