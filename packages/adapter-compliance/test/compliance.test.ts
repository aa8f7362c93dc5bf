import compliance from '../src/index.ts'
import { toy } from './fixtures/toy-adapter.ts'

let n = 0
compliance({
  name: 'toy',
  backend: toy,
  spawnArgs: () => [`machine-${++n}`],
  badSpawnArgs: ['--no-such-option'],
})
