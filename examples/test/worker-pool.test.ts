import { expect, it } from 'vitest'
import { run } from './helpers.ts'

it('workers register themselves by sending their own channel, and share the jobs', async () => {
  const output = await run('worker-pool/main.ts', ['3', '9'])
  for (const worker of ['worker-1', 'worker-2', 'worker-3']) {
    expect(output).toContain(`registered ${worker}`)
    // Round-robin: each of the three did three of the nine jobs.
    expect(output.match(new RegExp(`done by ${worker}:`, 'g'))).toHaveLength(3)
  }
  expect(output).toContain('done: 9 jobs over 3 workers')
})
