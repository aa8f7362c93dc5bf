import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import compliance from '@libswarm/adapter-compliance'
import { backend as simulator } from '@libswarm/adapter-simulator'
import type { Backend } from '@libswarm/core'
import { afterAll } from 'vitest'
import { backend } from '../src/index.ts'

// The debug lines go to a file, not the test output.
const dir = mkdtempSync(join(tmpdir(), 'adapter-debug-compliance-'))
const out = join(dir, 'debug.log')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// debug alone: it answers nothing itself, everything reaches the last stage's "not implemented".
compliance({ name: 'debug', backend, args: () => ['--out', out], badSpawnArgs: ['--no-such-option'] })

// debug in front of the simulator: every verb the simulator implements must still work through it.
const debugThenSimulator: Backend = {
  ...backend,
  capabilities: simulator.capabilities,
  async spawn(args, context) {
    const next = await simulator.spawn(['web', 'db'], context)
    return backend.spawn(args, { ...context, out: next })
  },
}
let n = 0
compliance({
  name: 'debug | simulator',
  backend: debugThenSimulator,
  args: () => ['--out', out],
  spawnArgs: () => ['--name', `c-${++n}`],
  badSpawnArgs: ['--no-such-option'],
})
