import compliance from '@libswarm/adapter-compliance'
import { backend as simulator } from '@libswarm/adapter-simulator'
import { backend } from '../src/index.ts'

let n = 0
compliance({
  name: 'aggregate',
  backend,
  backends: [simulator],
  args: () => ['east=simulator --log-interval 50 web', 'west=simulator db'],
  spawnArgs: () => ['--name', `c-${++n}`, 'busybox:latest', 'sleep', '60'],
  badSpawnArgs: [],
})
