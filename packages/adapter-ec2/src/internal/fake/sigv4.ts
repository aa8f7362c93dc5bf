/**
 * AWS Signature Version 4, checked the way AWS checks it (the published algorithm: canonical
 * request, string to sign, derived signing key), so that a request signed by the AWS SDK for
 * JavaScript, botocore (the aws CLI, boto3) or any other signer is accepted only with the right
 * secret key, region, service and time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/** A parsed `Authorization: AWS4-HMAC-SHA256 ...` header. */
export interface SigV4Authorization {
  accessKeyId: string
  date: string
  region: string
  service: string
  signedHeaders: string[]
  signature: string
}

/** Parses the header, or undefined when it is not SigV4. */
export function parseAuthorization(header: string | undefined): SigV4Authorization | undefined {
  if (!header) return undefined
  const match =
    /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/.exec(
      header,
    )
  if (!match) return undefined
  return {
    accessKeyId: match[1]!,
    date: match[2]!,
    region: match[3]!,
    service: match[4]!,
    signedHeaders: match[5]!.split(';'),
    signature: match[6]!,
  }
}

/** RFC 3986 percent-encoding as SigV4 wants it (unreserved characters kept). */
function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()

/** The request as the server received it. */
export interface SignedRequest {
  method: string
  /** The path, as sent (still percent-encoded). */
  path: string
  /** The raw query string, without `?`. */
  query: string
  /** Header values by lowercase name (repeated headers joined with `,`). */
  headers: Record<string, string>
  body: Buffer
}

/** The signature `secret` gives this request under `auth`'s scope, and the `x-amz-date` it covers. */
export function expectedSignature(request: SignedRequest, auth: SigV4Authorization, secret: string): string {
  const canonicalQuery = request.query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const key = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '))
      const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '))
      return [encode(key), encode(value)] as const
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('')
  const payloadHash = request.headers['x-amz-content-sha256'] ?? sha256(request.body)
  const canonicalPath = request.path === '' ? '/' : request.path
  const canonicalRequest = [
    request.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n')
  const amzDate = request.headers['x-amz-date'] ?? ''
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, auth.date), auth.region), auth.service), 'aws4_request')
  return createHmac('sha256', key).update(stringToSign).digest('hex')
}

/** True if `auth.signature` is what `secret` gives (compared in constant time). */
export function signatureMatches(request: SignedRequest, auth: SigV4Authorization, secret: string): boolean {
  const expected = Buffer.from(expectedSignature(request, auth, secret), 'hex')
  const given = Buffer.from(auth.signature, 'hex')
  return expected.length === given.length && timingSafeEqual(expected, given)
}

/** `x-amz-date` (`20240101T000000Z`) as ms since the epoch, or NaN. */
export function amzDateMs(text: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? '')
  if (!m) return Number.NaN
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
}
