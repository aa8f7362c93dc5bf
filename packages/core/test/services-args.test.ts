import { InvalidArgumentError, parseBackendArgs, positiveNumberOption } from '@libswarm/core'
import { describe, expect, it } from 'vitest'

const USAGE = 'thing [URL] [--timeout=MS] [--verbose]'
const KNOWN = { timeout: true, verbose: false }

describe('parseBackendArgs', () => {
  it('splits positionals from --name=value options and flags', () => {
    const parsed = parseBackendArgs(['a', '--timeout=5', 'b', '--verbose'], KNOWN, USAGE, 'adapter-thing')
    expect(parsed.positional).toEqual(['a', 'b'])
    expect([...parsed.options]).toEqual([
      ['timeout', '5'],
      ['verbose', 'true'],
    ])
    expect(positiveNumberOption(parsed, 'timeout', 1, USAGE, 'adapter-thing')).toBe(5)
    expect(positiveNumberOption(parsed, 'absent', 7, USAGE, 'adapter-thing')).toBe(7)
  })

  it.each([
    [['--nope'], /\[adapter-thing\] unknown option "--nope"; usage: thing/],
    [['--timeout'], /option "--timeout" needs a value/],
    [[42 as unknown as string], /arguments must be strings/],
  ])('refuses %j with a tagged InvalidArgumentError that shows the usage', (args, message) => {
    expect(() => parseBackendArgs(args, KNOWN, USAGE, 'adapter-thing')).toThrow(InvalidArgumentError)
    expect(() => parseBackendArgs(args, KNOWN, USAGE, 'adapter-thing')).toThrow(message)
  })

  it.each(['0', '-1', 'x', ''])('refuses --timeout=%s as a positive number', (raw) => {
    const parsed = parseBackendArgs([`--timeout=${raw}`], KNOWN, USAGE, 'adapter-thing')
    expect(() => positiveNumberOption(parsed, 'timeout', 1, USAGE, 'adapter-thing')).toThrow(
      /must be a positive number/,
    )
  })
})
