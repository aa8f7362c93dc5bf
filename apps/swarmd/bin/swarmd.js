#!/usr/bin/env node
// The swarmd command. In a checkout of the libswarm workspace (tsconfig.json sits beside
// package.json; it is not published) it registers tsx's loader and runs src/main.ts, so no build
// is needed and the workspace packages it imports resolve to their sources. Installed from npm it
// runs the compiled dist/main.js with plain Node; tsx is not needed.
import { existsSync } from 'node:fs'

if (existsSync(new URL('../tsconfig.json', import.meta.url))) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/main.ts', import.meta.url).href)
} else {
  await import(new URL('../dist/main.js', import.meta.url).href)
}
