// Builds the small N-API addon (native/fdpass.c) that passes file descriptors over unix sockets.
// Runs at install time. It needs python3, make and a C compiler, and Node's headers: where Node's
// own include/node folder is present (Debian, the official tarballs) it is used, so nothing is
// downloaded. If the build fails, the transport still works and reports canPassFds = false.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(dirname(fileURLToPath(import.meta.url)))
const prefix = resolve(process.execPath, '..', '..')

function findNodeGyp() {
  const candidates = []
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp)
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'))
  } catch {}
  candidates.push(join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'))
  candidates.push(join(prefix, 'lib/node_modules/pnpm/dist/node_modules/node-gyp/bin/node-gyp.js'))
  return candidates.find((file) => existsSync(file))
}

const gyp = findNodeGyp()
const args = ['rebuild']
if (existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`)
const result = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: here, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: here, stdio: 'inherit' })
if (result.status !== 0) {
  console.warn(
    '[transport-unix] could not build the fd-passing addon (needs python3, make, a C compiler and ' +
      "Node's headers); unix links will copy bytes instead of passing file descriptors.",
  )
}
