import compliance from '@libswarm/transport-compliance'
import { tcp } from '../src/index.ts'

compliance({ name: 'tcp', transport: () => tcp(), url: () => 'tcp://127.0.0.1:0' })
