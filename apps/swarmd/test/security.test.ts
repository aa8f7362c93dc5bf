import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Run, run, start, tempDir } from './helpers.ts'

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made by the openssl CLI. */
function makeCerts(
  dir: string,
): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=swarmd test CA',
  )
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=swarmd ${name}`)
    execFileSync('sh', ['-c', `printf '${ext.replace(/\n/g, '\\n')}\\n' > ${name}.ext`], { cwd: dir })
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    )
  }
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  }
}

const dir = tempDir()
let certs: ReturnType<typeof makeCerts>
beforeAll(() => {
  certs = makeCerts(dir.path)
})
afterAll(() => dir[Symbol.dispose]())

const servers: Run[] = []
afterEach(() => {
  for (const server of servers.splice(0)) if (server.child.exitCode === null) server.child.kill('SIGKILL')
})

async function serve(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const server = start([...args, 'debug', 'simulator'], env ? { env } : {})
  servers.push(server)
  const [, served] = (await server.waitFor(/serving the pipeline on (\S+)/)) as unknown as [string, string]
  return served
}

describe('--listen tls:// with mutual TLS (certificates from the openssl CLI)', () => {
  it('serves two clients in a row that present a certificate, and refuses one without', async () => {
    const served = await serve([
      '--listen',
      'tls://127.0.0.1:0',
      '--tls-cert',
      certs.serverCert,
      '--tls-key',
      certs.serverKey,
      '--tls-ca',
      certs.ca,
    ])
    expect(served).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/)
    const client = ['--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--tls-ca', certs.ca]

    const first = await run([...client, 'cli', `remote ${served}`], {
      input: 'spawn --name web busybox\nls\n',
    })
    expect(first.stderr).not.toMatch(/error/)
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^web$/m)
    // The first client closing its session must leave the shared pipeline head usable.
    const second = await run([...client, 'cli', `remote ${served}`], { input: 'start web\nget web\n' })
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/"state": "running"/)

    const noCert = await run(['--tls-ca', certs.ca, 'cli', `remote ${served}`], { input: 'ls\n' })
    expect(noCert.code).toBe(1)
    expect(noCert.stderr).toMatch(/client certificate/)

    const untrusted = await run(['cli', `remote ${served}`], { input: 'ls\n' })
    expect(untrusted.code).toBe(1)
    expect(untrusted.stderr).toMatch(/cannot reach a swarmd at tls:\/\//)
  })

  it('is bad usage without --tls-cert/--tls-key, or with an unreadable file', async () => {
    const missing = await run(['--listen', 'tls://127.0.0.1:0', 'simulator'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('add --tls-cert FILE --tls-key FILE')
    const half = await run(['--tls-cert', certs.serverCert, 'simulator'])
    expect(half.code).toBe(2)
    expect(half.stderr).toContain('--tls-cert and --tls-key go together')
    const unreadable = await run(['--tls-ca', join(dir.path, 'nope.pem'), 'simulator'])
    expect(unreadable.code).toBe(2)
    expect(unreadable.stderr).toContain('--tls-ca: cannot read')
  })
})

describe.each([
  { scheme: 'wss', path: '/swarm' },
  { scheme: 'https', path: '/swarm' },
])('--listen $scheme:// with a bearer token', ({ scheme, path }) => {
  it('accepts the token from --token or SWARMD_TOKEN and refuses a wrong one', async () => {
    const served = await serve([
      '--listen',
      `${scheme}://127.0.0.1:0${path}`,
      '--tls-cert',
      certs.serverCert,
      '--tls-key',
      certs.serverKey,
      '--token',
      's3cret',
    ])
    const ok = await run(['--tls-ca', certs.ca, 'cli', `remote ${served}`], {
      input: 'ls\n',
      env: { SWARMD_TOKEN: 's3cret' },
    })
    expect(ok.stderr).not.toMatch(/error/)
    expect(ok.code).toBe(0)
    const flag = await run(['--tls-ca', certs.ca, '--token', 's3cret', 'cli', `remote ${served}`], {
      input: 'ls\n',
    })
    expect(flag.code).toBe(0)
    const wrong = await run(['--tls-ca', certs.ca, '--token', 'guess', 'cli', `remote ${served}`], {
      input: 'ls\n',
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/token/)
  })
})
