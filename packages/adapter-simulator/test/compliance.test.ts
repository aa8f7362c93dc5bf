import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'

let n = 0
compliance({
  name: 'simulator',
  backend,
  args: () => ['--log-interval', '50', 'web', 'db'],
  spawnArgs: () => ['--name', `c-${++n}`, 'busybox:latest', 'sleep', '60'],
  badSpawnArgs: ['--no-such-option'],
})
