import compliance, { TEST_NAMES } from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { Etcd, etcdMissing } from './etcd.ts'

const missing = etcdMissing()
let etcd: Etcd | undefined
let n = 0
compliance({
  name: 'etcd',
  backend,
  before: async () => {
    if (!missing) etcd = await Etcd.start()
  },
  after: () => etcd?.stop(),
  // A fresh prefix per instance, so Ls starts empty.
  args: () => [
    etcd?.url ?? 'http://127.0.0.1:1',
    `/compliance-${Math.random().toString(36).slice(2, 8)}`,
    '--ttl=5',
  ],
  spawnArgs: () => [`worker-${++n}`, `tcp://127.0.0.1:${4000 + n}`],
  badSpawnArgs: ['--no-such-option'],
  skip: missing ? [{ reason: `needs a real etcd: ${missing}`, tests: [...TEST_NAMES] }] : [],
})
