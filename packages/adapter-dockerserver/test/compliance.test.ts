import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'

// The stage itself: Get describes it, Start/Stop control serving, the rest goes to the next stage.
compliance({
  name: 'dockerserver',
  backend,
  args: () => ['tcp://127.0.0.1:0'],
  badSpawnArgs: ['tcp://127.0.0.1:0', 'extra'],
})
