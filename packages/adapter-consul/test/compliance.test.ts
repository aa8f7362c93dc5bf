import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { FakeConsul } from './fake-consul.ts'

let fake: FakeConsul
let n = 0
compliance({
  name: 'consul',
  backend,
  before: async () => (fake = await FakeConsul.start()),
  after: () => fake.stop(),
  args: () => [fake.url, '--wait=10', '--backoff=50'],
  spawnArgs: () => [`svc-${++n}`, `--id=svc-${n}-a`, '--ttl=5s'],
  badSpawnArgs: ['--no-such-option'],
  skip: [
    {
      reason:
        'Spawn registers the instance at once (as Consul does), so the Start that follows changes nothing in the catalog and Consul reports no change; Watch is covered by consul.test.ts (create, health change, delete)',
      tests: ['Watch reports the change'],
    },
  ],
})
