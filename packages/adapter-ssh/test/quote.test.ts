import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { hostMatches, verifyHostKey } from '../src/internal/known-hosts.ts'
import { commandLine, quoteArg } from '../src/internal/quote.ts'

describe('quoting for the remote shell', () => {
  const nasty = [
    "it's",
    '$(rm -rf /)',
    '`id`',
    'a b\tc\nd',
    '"',
    '\\',
    '*',
    '~',
    '',
    '!',
    ';|&><',
    '$HOME',
    "''",
  ]

  it.each(nasty)('a real sh gets %j back unchanged', (arg) => {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${commandLine(arg)}`])
    expect(out.toString()).toBe(`${arg}\0`)
  })

  it('leaves plain words alone', () => {
    expect(quoteArg('ls')).toBe('ls')
    expect(quoteArg('/usr/bin/env')).toBe('/usr/bin/env')
  })

  it('rejects NUL bytes', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/)
  })
})

describe('known_hosts matching', () => {
  const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIKey', 'base64')
  it('matches plain, bracketed-port, wildcard, negated and hashed names', () => {
    expect(hostMatches('example.com,other', 'example.com')).toBe(true)
    expect(hostMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true)
    expect(hostMatches('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false)
    expect(hostMatches('*.example.com', 'good.example.com')).toBe(true)
    const salt = Buffer.from('0123456789abcdefghij')
    const hash = createHmac('sha1', salt).update('secret.host').digest('base64')
    expect(hostMatches(`|1|${salt.toString('base64')}|${hash}`, 'secret.host')).toBe(true)
  })

  it('tells match, unknown, mismatch and revoked apart', () => {
    const key = blob.toString('base64')
    const entry = { line: 1, hosts: 'h', type: 'ssh-ed25519', key, revoked: false }
    expect(verifyHostKey([entry], 'h', 22, blob).status).toBe('match')
    expect(verifyHostKey([entry], 'other', 22, blob).status).toBe('unknown')
    expect(verifyHostKey([{ ...entry, key: 'AAAA' }], 'h', 22, blob).status).toBe('mismatch')
    expect(verifyHostKey([{ ...entry, revoked: true }], 'h', 22, blob).status).toBe('revoked')
  })
})
