/**
 * Test set-up shared by the EC2 tests: an AWS environment that points nowhere real (no shared config
 * or credentials files of the machine, no IMDS), so that only what a test gives is used.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Clears the AWS variables of this process and points the shared files into a new empty temp folder
 * (a new one each time: the SDK caches what it read from a path).
 */
export function isolateAws(): string {
  const home = mkdtempSync(join(tmpdir(), 'adapter-ec2-clouds-'))
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key]
  process.env.AWS_CONFIG_FILE = join(home, 'config')
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(home, 'credentials')
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  return home
}

/** Fast timings for tests against the fake (the defaults suit a real EC2). */
export const FAST = [
  '--wait-interval=0.05',
  '--watch-interval=0.1',
  '--watch-budget=6000',
  '--retry-delay=0.01',
]
