import compliance, { TEST_NAMES } from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { Sshd, sshdMissing } from './sshd.ts'

const missing = sshdMissing()
let sshd: Sshd | undefined
let n = 0
compliance({
  name: 'ssh',
  backend,
  before: async () => {
    if (!missing) sshd = await Sshd.start()
  },
  after: () => sshd?.stop(),
  args: () =>
    sshd
      ? [sshd.target, `--identity=${sshd.userKey}`, `--known-hosts=${sshd.knownHosts}`, '--no-agent']
      : ['nobody@127.0.0.1:1'],
  spawnArgs: () => [`--name=sleeper-${++n}`, '--grace=2000', 'sleep', '30'],
  badSpawnArgs: ['--no-such-option'],
  skip: missing ? [{ reason: `needs a real sshd: ${missing}`, tests: [...TEST_NAMES] }] : [],
})
