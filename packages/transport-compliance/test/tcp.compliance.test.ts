import compliance from '../src/index.ts'
import { netTransport } from './net-transport.ts'

compliance({
  name: 'tcp (node:net + duplexLink)',
  transport: () => netTransport(),
  url: () => 'tcp://127.0.0.1:0',
})
