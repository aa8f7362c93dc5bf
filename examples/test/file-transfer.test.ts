import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { run, start } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-example-ft-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each([
  { transport: 'tcp', url: 'tcp://127.0.0.1:0' },
  { transport: 'unix', url: `unix://${join(dir, 'receiver.sock')}` },
])('file transfer over $transport', ({ transport, url }) => {
  it('streams a file inside a message and the receipt matches its sha256', async () => {
    const file = join(dir, `data-${transport}.bin`)
    const content = randomBytes(8 * 1024 * 1024 + 123)
    writeFileSync(file, content)
    const receiver = start('file-transfer/receive.ts', [url, join(dir, `in-${transport}`)])
    try {
      const [, listening] = await receiver.waitFor(/listening on (\S+),/)
      const output = await run('file-transfer/send.ts', [listening!, file])
      expect(output).toMatch(new RegExp(`sent data-${transport}.bin: ${content.length} bytes .* matches`))
      expect(readFileSync(join(dir, `in-${transport}`, `data-${transport}.bin`)).equals(content)).toBe(true)
      await receiver.waitFor(new RegExp(`received data-${transport}.bin: ${content.length} bytes`))
    } finally {
      await receiver.stop()
    }
  })
})
