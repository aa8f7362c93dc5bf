#!/usr/bin/env node
// The swarmd command. Published, it runs the compiled dist/main.js. In the workspace (no dist), it
// registers tsx's loader in this process and runs src/main.ts from source, so no build is needed.
import { existsSync } from 'node:fs'

const dist = new URL('../dist/main.js', import.meta.url)
if (existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/main.ts', import.meta.url).href)
}
