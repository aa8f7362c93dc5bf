/**
 * How many cases the fuzz tests run: `FUZZ_RUNS` (set by `pnpm fuzz` for long runs), else a bounded
 * default for CI. `FUZZ_SEED` replays a failing run (fast-check prints the seed and path).
 */
export function fuzzRuns(ciDefault: number): number {
  const fromEnv = Number(process.env.FUZZ_RUNS)
  return Number.isFinite(fromEnv) && fromEnv > 0 ? Math.floor(fromEnv) : ciDefault
}

export function fuzzSeed(): number | undefined {
  const seed = Number(process.env.FUZZ_SEED)
  return Number.isFinite(seed) && process.env.FUZZ_SEED ? seed : undefined
}

/** A test timeout that grows with the number of cases (`perCase` ms each) beyond the base 30 s. */
export function fuzzTimeout(runs: number, perCase: number): number {
  return 30_000 + runs * perCase
}

/** Prints the figure the issue asks for, visible in the test output. */
export function report(what: string, cases: number, extra = ''): void {
  console.log(`[fuzz] ${what}: ${cases} cases run${extra ? `, ${extra}` : ''}`)
}
