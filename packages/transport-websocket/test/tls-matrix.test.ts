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
})
