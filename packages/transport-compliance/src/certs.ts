/**
 * Test certificates for TLS transports, generated at test time with the openssl CLI: a CA, a second
 * CA, and good and bad server and client certificates. Import as
 * `@libswarm/transport-compliance/certs` (a devDependency of every TLS-capable transport).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A certificate and its key, PEM. */
export interface Pair {
  cert: string
  key: string
}

/** Everything the TLS tests need, generated fresh with the openssl CLI. */
export interface Certs {
  ca: string
  otherCa: string
  server: Pair
  client: Pair
  /** A second valid client certificate from the same CA (CN=reader-1), for authorization tests. */
  otherClient: Pair
  clientFromOtherCa: Pair
  expiredServer: Pair
  expiredClient: Pair
  selfSignedServer: Pair
  wrongHostServer: Pair
}

/** True when the openssl CLI is on this machine. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** Makes a CA, a second CA, and server/client certificates good and bad, in a temp dir (removed after). */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'ls-tls-'))
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  try {
    const makeCa = (name: string, cn: string) =>
      run(
        'req',
        '-x509',
        ...EC,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      )
    makeCa('ca', 'libswarm test CA')
    makeCa('other', 'some other CA')
    const csr = (name: string, subject: string, san?: string) =>
      run(
        'req',
        '-new',
        ...EC,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        subject,
        ...(san ? ['-addext', `subjectAltName=${san}`] : []),
      )
    const sign = (name: string, ca: string) =>
      run(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.pem`,
        '-CAkey',
        `${ca}.key`,
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-copy_extensions',
        'copy',
      )
    const pair = (name: string): Pair => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) })

    csr('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')
    sign('server', 'ca')
    csr('client', '/O=swarm/CN=worker-1')
    sign('client', 'ca')
    csr('reader', '/O=swarm/CN=reader-1')
    sign('reader', 'ca')
    csr('stranger', '/CN=stranger')
    sign('stranger', 'other')
    csr('wronghost', '/CN=other.example', 'DNS:other.example')
    sign('wronghost', 'ca')
    run(
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'selfsigned.key',
      '-out',
      'selfsigned.pem',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    )

    // Expired certificates need explicit dates in the past: `openssl ca` takes them.
    writeFileSync(join(dir, 'index.txt'), '')
    writeFileSync(join(dir, 'serial'), '1000\n')
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        'database = index.txt',
        'new_certs_dir = .',
        'serial = serial',
        'default_md = sha256',
        'policy = p',
        'copy_extensions = copy',
        'unique_subject = no',
        '[p]',
        'commonName = supplied',
        'organizationName = optional',
      ].join('\n'),
    )
    const expire = (name: string) =>
      run(
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200102000000Z',
        '-notext',
      )
    csr('expired', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')
    expire('expired')
    csr('expiredclient', '/CN=old-worker')
    expire('expiredclient')

    return {
      ca: read('ca.pem'),
      otherCa: read('other.pem'),
      server: pair('server'),
      client: pair('client'),
      otherClient: pair('reader'),
      clientFromOtherCa: pair('stranger'),
      expiredServer: pair('expired'),
      expiredClient: pair('expiredclient'),
      selfSignedServer: pair('selfsigned'),
      wrongHostServer: pair('wronghost'),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
