import compliance from '@libswarm/adapter-compliance'
import { memoryCloud } from '../src/testing.ts'

// The shared tree of verbs, over the in-memory provider: every cloud adapter answers the same way.
const { backend } = memoryCloud()
let n = 0
compliance({
  name: 'memcloud',
  backend,
  args: () => ['--wait-interval=0.02', '--watch-interval=0.05', '--watch-budget=6000'],
  spawnArgs: () => [`vm-${++n}`, '--image=img-1'],
  badSpawnArgs: ['--no-such-option'],
})
