import tlsMatrix from '@libswarm/transport-compliance/tls'
import { websocket } from '../src/index.ts'

tlsMatrix({
  name: 'websocket (wss://)',
  transport: () => websocket(),
  url: 'wss://127.0.0.1:0/swarm',
  listenOptions: (server, clientCa) => ({
    tls: { ...server, ca: clientCa, requestCert: clientCa !== undefined },
  }),
  dialOptions: (client) => ({ tls: client }),
  skip: [
    {
      reason:
        'peer.identity does not carry the client certificate in @libswarm/transport-websocket yet (mutual TLS identity is being added)',
      tests: ['mutual TLS > a verified client certificate shows in the server session peer.identity'],
    },
  ],
})
