import { defineConfig } from 'vitest/config'

// Used when this package runs on its own (`npx vitest run` in its folder). Inside the libswarm
// workspace the root config makes a project of it instead (`npx vitest run --project adapter-__NAME__`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
  },
})
