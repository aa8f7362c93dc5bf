import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'

let n = 0
compliance({
  name: '__NAME__',
  backend,
  args: () => ['first'],
  spawnArgs: () => [`thing-${++n}`],
  badSpawnArgs: ['--no-such-option'],
  // skip: [{ reason: 'why this adapter cannot pass it', tests: ['Connect gives a byte stream'] }],
})
