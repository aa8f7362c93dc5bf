import { existsSync, readdirSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { run, start, tempDir } from './helpers.ts'

/**
 * Shell metacharacters that each create the file MARKER in the current folder if a shell ever ran
 * them. Every test runs swarmd in a fresh folder and checks that the folder stays empty.
 */
const PAYLOADS = [
  '; touch MARKER',
  '$(touch MARKER)',
  '`touch MARKER`',
  '| touch MARKER',
  '&& touch MARKER',
  '> MARKER',
]

/** No stack trace, no crash report: what a user must never see. */
function expectNoCrash(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /)
  expect(stderr).not.toMatch(/unexpected failure|TypeError|ReferenceError|URIError|ERR_[A-Z_]+/)
}

function expectNothingCreated(dir: string): void {
  expect(existsSync(join(dir, 'MARKER'))).toBe(false)
  expect(readdirSync(dir)).toEqual([])
}

describe('hostile specs on the command line: exit 2 with a clear message, no shell', () => {
  it('an empty or blank spec', async () => {
    for (const spec of ['', '   ', '\t\n']) {
      const result = await run(['cli', spec])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('a stage spec is empty')
      expectNoCrash(result.stderr)
    }
  }, 60_000)

  it('unterminated quotes and a trailing backslash', async () => {
    for (const [spec, message] of [
      ["simulator 'web", 'unterminated single quote'],
      ['simulator "web', 'unterminated double quote'],
      ['simulator web\\', 'trailing backslash'],
    ] as const) {
      const result = await run([spec])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(message)
      expectNoCrash(result.stderr)
    }
  }, 60_000)

  it('a 100 kB spec (an argument can hold at most 128 kB on Linux) gets a short message', async () => {
    const huge = 'x'.repeat(100_000)
    const unterminated = await run([`simulator '${huge}`])
    expect(unterminated.code).toBe(2)
    expect(unterminated.stderr).toContain('unterminated single quote')
    expect(unterminated.stderr.length).toBeLessThan(2_000)
    const name = await run([huge])
    expect(name.code).toBe(2)
    expect(name.stderr).toContain('is not a backend name')
    expect(name.stderr.length).toBeLessThan(2_000)
    expectNoCrash(unterminated.stderr + name.stderr)
  }, 60_000)

  it('unicode and metacharacters as a backend name: not a backend name, and no npm command echoing them', async () => {
    using dir = tempDir()
    for (const spec of ['simülätor', '☃ ☃', '\u202emirrored', ...PAYLOADS, '--', '-x']) {
      const result = await run(['--', spec], { cwd: dir.path })
      expect(result.code, spec).toBe(2)
      expect(result.stderr).toMatch(/is not a backend name|a stage spec is empty/)
      expect(result.stderr).not.toContain('npm install')
      expectNoCrash(result.stderr)
    }
    expectNothingCreated(dir.path)
  }, 60_000)

  it('metacharacters in an exec stage reach the command as literal arguments, never a shell', async () => {
    using dir = tempDir()
    const words = PAYLOADS.map((p) => `'${p}'`).join(' ')
    const swarmd = start([`exec --name echo -- echo ${words}`], { cwd: dir.path })
    try {
      await swarmd.waitFor(
        /\[exec\] ; touch MARKER \$\(touch MARKER\) `touch MARKER` \| touch MARKER && touch MARKER > MARKER$/m,
      )
    } finally {
      swarmd.child.kill('SIGTERM')
    }
    const result = await swarmd.exited()
    expect(result.code).toBe(0)
    expectNoCrash(result.stderr)
    expectNothingCreated(dir.path)
  }, 60_000)
})

describe('hostile flags: exit 2 with a clear message', () => {
  it('unknown flags and flags without their value', async () => {
    for (const [args, message] of [
      [['-x', 'simulator'], "Unknown option '-x'"],
      [['--listen'], "Option '-l, --listen <value>' argument missing"],
      [['simulator', '-l'], "Option '-l, --listen <value>' argument missing"],
      [['--config'], "Option '-c, --config <value>' argument missing"],
      [['--log-format'], "Option '--log-format <value>' argument missing"],
      [['--tls-cert'], "Option '--tls-cert <value>' argument missing"],
      [['--tls-key'], "Option '--tls-key <value>' argument missing"],
      [['--tls-ca'], "Option '--tls-ca <value>' argument missing"],
      [['--token'], "Option '--token <value>' argument missing"],
      [['--listen', '--quiet', 'simulator'], "Option '--listen' argument is ambiguous"],
      [['--log-format', 'xml', 'simulator'], '--log-format must be "text" or "json", not "xml"'],
      [['--token', '', 'simulator'], '--token needs a non-empty token'],
      [['--help=yes'], "Option '-h, --help' does not take an argument"],
    ] as const) {
      const result = await run([...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(message)
      expect(result.stderr).toContain('Run "swarmd --help" for usage.')
      expectNoCrash(result.stderr)
    }
  }, 60_000)

  it('bad --listen URLs are bad usage, also those only the transport can judge', async () => {
    using dir = tempDir()
    for (const [url, message] of [
      ['', '--listen needs a URL'],
      ['not a url', '--listen needs a URL'],
      ['tcp://127.0.0.1:99999', '--listen needs a URL'],
      ['tcp://[::1', '--listen needs a URL'],
      ['gopher://x', 'no transport for "gopher://"'],
      ['tcp://127.0.0.1', 'has no port'],
      ['tcp://:4242', '--listen needs a URL'],
      ['tcp://127.0.0.1:0/path', 'must not have a path'],
      ['unix://', 'needs an absolute socket path'],
      ['unix://relative/x.sock', 'three slashes'],
      ['unix:///tmp/%ZZ.sock', 'malformed %-escape'],
      ['unix:///tmp/a%00b.sock', 'NUL byte'],
      ['tcp://$(touch MARKER):1', '--listen needs a URL'],
    ] as const) {
      const result = await run(['-q', '--listen', url, 'simulator'], { cwd: dir.path })
      expect(result.code, url).toBe(2)
      expect(result.stderr).toContain(message)
      expectNoCrash(result.stderr)
    }
    expectNothingCreated(dir.path)
  }, 60_000)

  it('a --listen address that cannot be used right now is a failure (exit 1), not bad usage', async () => {
    using dir = tempDir()
    const result = await run([
      '-q',
      '--listen',
      `unix://${join(dir.path, 'no/such/dir/s.sock')}`,
      'simulator',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('does not exist')
    expectNoCrash(result.stderr)
  }, 60_000)

  it.each(['tcp', 'ws', 'http2'])(
    'a --listen %s:// port that another server holds is a failure that says "in use" (exit 1)',
    async (scheme) => {
      const holder = createServer()
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
      try {
        const { port } = holder.address() as AddressInfo
        const url = `${scheme}://127.0.0.1:${port}${scheme === 'tcp' ? '' : '/swarm'}`
        const result = await run(['-q', '--listen', url, 'simulator'])
        expect(result.code).toBe(1)
        expect(result.stderr).toContain(`${scheme}://127.0.0.1:${port}`)
        expect(result.stderr).toContain('already in use')
        expectNoCrash(result.stderr)
      } finally {
        holder.close()
      }
    },
    60_000,
  )

  it('bad remote URLs print the usage line, exit 2', async () => {
    using dir = tempDir()
    for (const [spec, message] of [
      ['remote', 'remote needs exactly one URL'],
      ["remote 'not a url'", 'remote needs exactly one URL'],
      ['remote tcp://127.0.0.1:1 extra', 'remote needs exactly one URL'],
      ['remote gopher://x', 'unsupported URL scheme'],
      ['remote tcp://127.0.0.1', 'has no port'],
      ['remote unix:///tmp/%ZZ.sock', 'malformed %-escape'],
      ["remote 'tcp://$(touch MARKER):1'", 'remote needs exactly one URL'],
      ["remote 'tcp://x:1;touch MARKER'", 'remote needs exactly one URL'],
    ] as const) {
      const result = await run(['-q', 'cli', spec], { cwd: dir.path })
      expect(result.code, spec).toBe(2)
      expect(result.stderr).toContain(message)
      expect(result.stderr).toContain('usage: remote URL')
      expectNoCrash(result.stderr)
    }
    expectNothingCreated(dir.path)
  }, 60_000)
})

describe('hostile cli lines: a message on stderr, and the prompt carries on', () => {
  it('empty, 1 MB, NUL, unicode, metacharacters, bad quotes, unknown commands and wrong arguments', async () => {
    using dir = tempDir()
    const lines = [
      '',
      '   ',
      `get ${'x'.repeat(1 << 20)}`,
      `spawn ${'y'.repeat(1 << 20)}`,
      'get a\0b',
      '\0',
      'get ☃\u202e',
      ...PAYLOADS.map((p) => `get '${p}'`),
      ...PAYLOADS,
      'get "unterminated',
      "get 'unterminated",
      'get trailing\\',
      'frobnicate --now',
      'attach',
      'attach a b c',
      'get a b',
      'spawn',
      'connect a b',
      `spawn --name 'we b$(touch MARKER)' busybox`,
      '# a comment: $(touch MARKER)',
      '?',
      'spawn --name last busybox',
      'ls',
    ]
    const started = Date.now()
    const result = await run(['-q', 'cli', 'simulator'], { cwd: dir.path, input: lines.join('\n') + '\n' })
    expect(result.code).toBe(0)
    expectNoCrash(result.stderr)
    expect(Date.now() - started).toBeLessThan(20_000)
    // Each bad line got its own message, one line each (a 1 MB argument is not echoed whole).
    for (const message of [
      'unterminated double quote',
      'unterminated single quote',
      'trailing backslash',
      'unknown command "frobnicate"',
      'unknown command ";"',
      'unknown command "$(touch"',
      'unknown command "\0"',
      'error: usage: attach NAME | attach ..',
      'error: usage: get [NAME]',
      'error: usage: spawn ARGS...',
      'error: usage: connect [NAME]',
      'more characters)', // the 1 MB name in the adapter's answer, cut
    ]) {
      expect(result.stderr).toContain(message)
    }
    expect(result.stderr.length).toBeLessThan(50_000)
    // The odd name reached the adapter literally, which refused it; the last lines still ran.
    expect(result.stderr).toContain('invalid container name "we b$(touch MARKER)"')
    expect(result.stdout).toMatch(/^last$/m)
    expect(result.stdout).toContain('list the children of the current service') // `?` is help
    expect(result.stderr).not.toContain('a comment')
    expectNothingCreated(dir.path)
  }, 60_000)
})
