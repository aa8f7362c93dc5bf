import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, parseBackendArgs, parseSpec } from '../src/index.ts'
import { fuzzRuns, fuzzSeed, fuzzTimeout, report } from './fuzz-runs.ts'

const RUNS = fuzzRuns(2000)

/** Text a hostile user or peer may type: quotes, backslashes, shell metacharacters, NUL, unicode. */
const hostileChar = fc.oneof(
  fc.constantFrom(
    "'",
    '"',
    '\\',
    ' ',
    '\t',
    '\n',
    '\0',
    '$',
    '`',
    ';',
    '|',
    '&',
    '>',
    '<',
    '(',
    ')',
    '*',
    '#',
  ),
  fc.constantFrom('é', '☃', '\u00a0', '\u2028', '\ud83d\ude00', '\ud800', '\ufeff'),
  fc.string({ unit: 'grapheme', maxLength: 1 }),
  fc.string({ unit: 'binary', maxLength: 1 }),
)
const hostileText = fc.oneof(
  fc.string({ unit: hostileChar, maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', "'", '"', '\\', `; rm -rf / $(x) \`y\` | & > <`, '"\\', "'''", 'a\\'),
)

/** A word quoted for parseSpec (and a POSIX shell): single quotes, each `'` written as `'\''`. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`
}

describe('parseSpec under fuzzing (what swarmd and its cli split every spec and line with)', () => {
  it(
    'never throws anything but InvalidArgumentError, and returns strings without empty unquoted words',
    () => {
      fc.assert(
        fc.property(hostileText, (spec) => {
          let words: string[]
          try {
            words = parseSpec(spec)
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidArgumentError)
            expect((error as Error).message.length).toBeLessThan(400)
            return
          }
          expect(Array.isArray(words)).toBe(true)
          for (const word of words) expect(typeof word).toBe('string')
          // Without quotes, a word is never empty: empty words only come from '' or "".
          if (!/['"]/.test(spec)) for (const word of words) expect(word).not.toBe('')
        }),
        { numRuns: RUNS, seed: fuzzSeed() },
      )
      report('parseSpec, hostile text', RUNS)
    },
    fuzzTimeout(RUNS, 2),
  )

  it(
    'round-trips quoted words: parseSpec(words.map(quote).join(" ")) gives the words back',
    () => {
      fc.assert(
        fc.property(
          fc.array(hostileText, { maxLength: 8 }),
          fc.constantFrom(' ', '  ', '\t', ' \n '),
          (words, gap) => {
            expect(parseSpec(words.map(quote).join(gap))).toEqual(words)
          },
        ),
        { numRuns: RUNS, seed: fuzzSeed() },
      )
      report('parseSpec, round trip of quoted words', RUNS)
    },
    fuzzTimeout(RUNS, 2),
  )

  it('round-trips words backslash-escaped character by character and double-quoted', () => {
    fc.assert(
      fc.property(
        fc.array(
          hostileText.filter((w) => w !== ''),
          { maxLength: 6 },
        ),
        (words) => {
          // Backslash before every code unit except a newline (which a backslash would keep, too).
          const escaped = words.map((w) => [...w].map((c) => `\\${c}`).join(''))
          expect(parseSpec(escaped.join(' '))).toEqual(words)
          const doubled = words.map((w) => `"${w.replace(/["\\$`]/g, (c) => `\\${c}`)}"`)
          expect(parseSpec(doubled.join(' '))).toEqual(words)
        },
      ),
      { numRuns: RUNS, seed: fuzzSeed() },
    )
    report('parseSpec, round trip of escaped and double-quoted words', RUNS)
  })

  it('answers a 1 MB spec quickly, and an unterminated 1 MB one with a short message', () => {
    const big = 'x'.repeat(1 << 20)
    const started = Date.now()
    expect(parseSpec(`exec ${big}`)).toEqual(['exec', big])
    expect(() => parseSpec(`exec '${big}`)).toThrow(InvalidArgumentError)
    let message = ''
    try {
      parseSpec(`exec "${big}`)
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(
      /^unterminated double quote at column 6 in spec: exec "x+\.\.\. \(1048582 characters\)$/,
    )
    expect(message.length).toBeLessThan(400)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('parseBackendArgs under fuzzing', () => {
  const known = { name: true, grace: true, ipc: false }
  it(
    'never throws anything but InvalidArgumentError, and accepts only the known options',
    () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              hostileText,
              hostileText.map((t) => `--${t}`),
              fc.constantFrom('--name', '--name=', '--ipc', '--ipc=1', '--grace', '--', '---'),
              // Object.prototype's members are not options.
              fc.constantFrom('--constructor', '--__proto__', '--toString=x', '--hasOwnProperty'),
            ),
            { maxLength: 8 },
          ),
          (args) => {
            try {
              const parsed = parseBackendArgs(args, known, 'x [--name=N]', 'fuzz')
              for (const name of parsed.options.keys()) expect(Object.keys(known)).toContain(name)
              expect(parsed.positional.every((a) => !a.startsWith('--'))).toBe(true)
            } catch (error) {
              expect(error).toBeInstanceOf(InvalidArgumentError)
              expect((error as Error).message).toContain('usage: x [--name=N]')
            }
          },
        ),
        { numRuns: RUNS, seed: fuzzSeed() },
      )
      report('parseBackendArgs, hostile args', RUNS)
    },
    fuzzTimeout(RUNS, 2),
  )

  it('treats --constructor and --__proto__ as unknown options', () => {
    for (const arg of ['--constructor', '--__proto__', '--toString=x']) {
      expect(() => parseBackendArgs([arg], known, 'x', 'fuzz')).toThrow(/unknown option/)
    }
  })
})
