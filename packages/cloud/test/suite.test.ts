import { runCloudSuite } from '../src/suite.ts'
import { FakeFleet, memoryCloud } from '../src/testing.ts'

// The shared cloud behaviour, over the in-memory provider (the adapters run it over their fakes).
const fleet = new FakeFleet()
runCloudSuite({
  name: 'memcloud',
  backend: memoryCloud(fleet).backend,
  spawnArgs: ['--image=img-1'],
  maxPageSize: 100,
  start: async () => ({ args: [], fleet, close: () => {} }),
})
