import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const src = fileURLToPath(new URL('../src/', import.meta.url))

/** The modules a browser bundle of a session loads. */
const sessionPath = [
  ...readdirSync(join(src, 'session')).map((f) => `session/${f}`),
  'channel.ts',
  'pipe.ts',
  'copy.ts',
  'errors.ts',
  'streams.ts',
  'transport.ts',
  'codec/codec.ts',
  'codec/msgpack.ts',
  'codec/json.ts',
]

describe('the session path stays browser-safe', () => {
  it.each(sessionPath)('%s has no runtime node:* import', (file) => {
    const text = readFileSync(join(src, file), 'utf8')
    const runtime = [
      ...text.matchAll(/^import\s+(?!type\s)(?:(?!\bimport\b)[^;])*?from\s+'(node:[^']+)'/gms),
    ].map((m) => m[1])
    const bare = [...text.matchAll(/^import\s+'(node:[^']+)'/gm)].map((m) => m[1])
    expect([...runtime, ...bare], `${file} imports Node modules at load time`).toEqual([])
  })
})
