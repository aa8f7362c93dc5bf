import compliance, { TEST_NAMES } from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { dockerdAvailable, startDockerd, type TestDockerd } from '../src/testing.ts'

const available = dockerdAvailable()
if (!available.ok && process.env.CI)
  throw new Error(`adapter-docker compliance needs a real dockerd in CI: ${available.reason}`)

let dockerd: TestDockerd | undefined
let n = 0
compliance({
  name: 'dockerclient',
  backend,
  before: async () => {
    if (available.ok) dockerd = await startDockerd()
  },
  after: () => dockerd?.stop(),
  args: () => [dockerd!.host],
  // StopTimeout 1: `sleep` as PID 1 ignores SIGTERM, so Stop would otherwise wait Docker's 10 s.
  spawnArgs: () => [
    JSON.stringify({ name: `c-${++n}`, Image: 'bb:latest', Cmd: ['sleep', '60'], StopTimeout: 1 }),
  ],
  badSpawnArgs: ['unix:///a', 'extra'],
  skip: available.ok ? [] : [{ reason: `needs a real dockerd: ${available.reason}`, tests: [...TEST_NAMES] }],
})
