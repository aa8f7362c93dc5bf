import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'

compliance({
  name: 'exec',
  backend,
  args: () => ['--grace', '1000', process.execPath, '-e', 'setInterval(() => {}, 1000)'],
  badSpawnArgs: ['--no-such-option'],
  skip: [
    {
      reason:
        'an exec instance is the command itself: Connect needs it running, and the suite connects before Start (test/exec.test.ts covers Connect after Start, in memory and over a session)',
      tests: ['Connect gives a byte stream'],
    },
  ],
})
