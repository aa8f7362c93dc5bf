import { describe, expect, it } from 'vitest'
import { run } from './helpers.ts'

describe.each([
  { transport: 'unix', args: [] },
  { transport: 'tcp', args: ['tcp'] },
])('request-response across processes over $transport', ({ transport, args }) => {
  it('starts the server as a child process, gets every answer on its reply channel, stops it', async () => {
    const output = await run('request-response/client.ts', args)
    expect(output).toMatch(new RegExp(`is listening on ${transport}://`))
    expect(output).toContain('add 2 40 -> 42')
    expect(output).toContain('upper -> CHANNELS CARRY CHANNELS')
    expect(output).toContain('three at once -> [ 2, 4, 6 ]')
    expect(output).toMatch(/done\n$/)
  })
})
