import compliance from '@libswarm/transport-compliance'
import { http2 } from '../src/index.ts'

compliance({ name: 'http2', transport: () => http2(), url: () => 'http2://127.0.0.1:0/swarm' })
