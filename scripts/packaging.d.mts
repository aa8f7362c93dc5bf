/** Types for scripts/packaging.mjs (used by test/packaging.integration.test.ts). */
export declare const root: string
export declare const PNPM: string[]
export interface WorkspacePackage {
  name: string
  version: string
  private: boolean
  dir: string
}
export interface RunResult {
  code: number
  stdout: string
  stderr: string
}
export interface RunOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
}
export declare function publishablePackages(): WorkspacePackage[]
export declare function run(command: string, args: string[], options?: RunOptions): Promise<RunResult>
export declare function runOk(command: string, args: string[], options?: RunOptions): Promise<RunResult>
export declare function build(names: string[]): Promise<void>
export declare function tarballName(name: string, version: string): string
export declare function pack(packages: WorkspacePackage[], dest: string): Promise<string[]>
