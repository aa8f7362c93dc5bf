/**
 * The swarmd executable: runs {@link main} on this process and exits with its code.
 * `bin/swarmd.js` loads this file (from source in the workspace, from dist when published).
 */
import { main } from './internal/app.ts'

const code = await main({
  argv: process.argv.slice(2),
  cwd: process.cwd(),
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signals: process,
})
// Let stdout/stderr drain, then leave even if a stray handle (a dead peer's socket) is still open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
