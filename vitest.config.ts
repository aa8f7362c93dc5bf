import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('.', import.meta.url))

// One project per workspace package: every folder under packages/ and apps/ with a test/ folder.
const packageDirs = ['packages', 'apps'].flatMap((group) =>
  existsSync(join(root, group))
    ? readdirSync(join(root, group), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(root, group, entry.name, 'test')))
        .map((entry) => join(root, group, entry.name))
    : [],
)

export default defineConfig({
  test: {
    projects: [
      ...packageDirs.map((dir) => ({
        extends: true as const,
        test: {
          name: dir.split('/').pop()!,
          root: dir,
          include: ['test/**/*.test.ts'],
        },
      })),
      // The runnable examples, each run as a user would (examples/test/).
      {
        extends: true as const,
        test: { name: 'examples', root: join(root, 'examples'), include: ['test/**/*.test.ts'] },
      },
      // The documentation site's own checks (docs/test/).
      {
        extends: true as const,
        test: { name: 'docs', root: join(root, 'docs'), include: ['test/**/*.test.ts'] },
      },
      // The workspace's own rules (test/workspace.test.ts).
      { extends: true as const, test: { name: 'workspace', root, include: ['test/**/*.test.ts'] } },
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', join(root, 'scripts/summary-reporter.ts')],
  },
})
