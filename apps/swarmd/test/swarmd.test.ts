import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FIXTURE_ADAPTER, run, start, tempDir, writeFiles } from './helpers.ts'

describe('swarmd without a pipeline', () => {
  it('lists the built-in and installed backends with their summaries and usage lines', async () => {
    const result = await run([])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\s+cli\s+an interactive prompt/m)
    expect(result.stdout).toMatch(/usage: remote URL/)
    // The workspace root installs the demo's adapters.
    expect(result.stdout).toMatch(/^\s+debug\s+\S/m)
    expect(result.stdout).toMatch(/^\s+simulator\s+\S/m)
  })

  it('prints help and version', async () => {
    const help = await run(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('--listen URL')
    expect(help.stdout).toContain('--log-format')
    const version = await run(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^swarmd \d+\.\d+\.\d+\n$/)
  })

  it('-h and -V are --help and --version; the help shows every flag docs/SWARMD.md documents', async () => {
    const help = await run(['-h'])
    expect(help.code).toBe(0)
    expect(help.stdout).toBe((await run(['--help'])).stdout)
    for (const flag of [
      '-l, --listen URL',
      '--tls-cert FILE',
      '--tls-key FILE',
      '--tls-ca FILE',
      '--token TOKEN',
      '-c, --config FILE',
      '--log-format FMT',
      '-q, --quiet',
      '-h, --help',
      '-V, --version',
    ]) {
      expect(help.stdout).toContain(flag)
    }
    const version = await run(['-V'])
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^swarmd \d+\.\d+\.\d+\n$/)
  })

  it('-q and --quiet drop the progress lines but keep stage logs; -l and -c are --listen and --config', async () => {
    using dir = tempDir()
    writeFiles(dir.path, {
      'conf.json': JSON.stringify({ adapters: ['./echo.mjs'] }),
      'echo.mjs': FIXTURE_ADAPTER,
    })
    const loud = await run(['-c', 'conf.json', 'cli', 'echo'], { cwd: dir.path, input: 'ls\n' })
    expect(loud.code).toBe(0)
    expect(loud.stderr).toContain('swarmd: starting echo: done')
    for (const quiet of ['-q', '--quiet']) {
      const result = await run([quiet, '-c', 'conf.json', 'cli', 'echo'], { cwd: dir.path, input: 'ls\n' })
      expect(result.code).toBe(0)
      expect(result.stderr).not.toMatch(/spawning|starting|stopping/)
      expect(result.stderr).toContain('[echo] echo spawned with []')
    }
    const swarmd = start(['-q', '-l', 'tcp://127.0.0.1:0', 'simulator'])
    try {
      await swarmd.waitFor(/serving the pipeline on tcp:\/\/127\.0\.0\.1:\d+/)
    } finally {
      swarmd.child.kill('SIGTERM')
    }
    expect((await swarmd.exited()).code).toBe(0)
  })

  it('-- ends the options: what follows is a spec even if it starts with -', async () => {
    const result = await run(['--', '--version'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('"--version" is not a backend name')
  })

  it('rejects an unknown option with exit code 2 and a pointer to --help', async () => {
    const result = await run(['--frobnicate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Unknown option '--frobnicate'")
    expect(result.stderr).toContain('swarmd --help')
    expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('rejects --listen without a pipeline and a malformed URL', async () => {
    expect((await run(['--listen', 'tcp://127.0.0.1:0'])).code).toBe(2)
    const bad = await run(['--listen', 'not a url', 'cli'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--listen needs a URL')
  })

  it('finds adapters installed in node_modules/@libswarm of the current folder', async () => {
    using dir = tempDir()
    writeFiles(dir.path, {
      'node_modules/@libswarm/adapter-fixture/package.json': JSON.stringify({
        name: '@libswarm/adapter-fixture',
        type: 'module',
        exports: { '.': { import: './index.js' } },
      }),
      'node_modules/@libswarm/adapter-fixture/index.js': FIXTURE_ADAPTER,
    })
    const result = await run([], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\s+echo\s+answers every verb/m)
    expect(result.stdout).toMatch(/usage: picky ok\s+\(@libswarm\/adapter-fixture\)/)
  })

  it('loads adapters named in swarmd.config.json and in --config FILE', async () => {
    using dir = tempDir()
    writeFiles(dir.path, {
      'local/echo.mjs': FIXTURE_ADAPTER,
      'swarmd.config.json': JSON.stringify({ adapters: ['./local/echo.mjs'] }),
      'conf/other.json': JSON.stringify({ adapters: ['../local/echo.mjs'] }),
    })
    const implicit = await run([], { cwd: dir.path })
    expect(implicit.code).toBe(0)
    expect(implicit.stdout).toMatch(/usage: echo \[WORDS\.\.\.\]\s+\(\.\/local\/echo\.mjs\)/)
    const explicit = await run(['--config', join(dir.path, 'conf/other.json')], { cwd: dir.path })
    expect(explicit.code).toBe(0)
    expect(explicit.stdout).toMatch(/usage: echo \[WORDS\.\.\.\]\s+\(\.\.\/local\/echo\.mjs\)/)
  })

  it('explains a broken config file and a config that names a missing package', async () => {
    using dir = tempDir()
    writeFiles(dir.path, {
      'bad.json': '{ "adapters": [1] }',
      'broken.json': '{',
      'missing.json': '{"adapters":["nope-pkg"]}',
    })
    const bad = await run(['--config', 'bad.json'], { cwd: dir.path })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('"adapters" must be a list of package names or paths')
    const broken = await run(['--config', 'broken.json'], { cwd: dir.path })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain('is not valid JSON')
    const absent = await run(['--config', 'absent.json'], { cwd: dir.path })
    expect(absent.code).toBe(2)
    expect(absent.stderr).toContain('does not exist')
    const missing = await run(['--config', 'missing.json'], { cwd: dir.path })
    expect(missing.code).toBe(0) // listing still works; the problem is a warning
    expect(missing.stderr).toContain('npm install nope-pkg')
  })
})

describe('swarmd with a bad pipeline', () => {
  it('names the package to install for a backend that is not installed, exit 2', async () => {
    const result = await run(['cli', 'nosuchbackend'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('backend "nosuchbackend" is not installed')
    expect(result.stderr).toContain('npm install @libswarm/adapter-nosuchbackend')
  })

  it('rejects a spec it cannot read, exit 2', async () => {
    const result = await run(["simulator 'unterminated"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('unterminated single quote')
  })
})
