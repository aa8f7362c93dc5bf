import compliance from '@libswarm/transport-compliance'
import { websocket } from '../src/index.ts'

compliance({ name: 'websocket', transport: () => websocket(), url: () => 'ws://127.0.0.1:0/swarm' })
