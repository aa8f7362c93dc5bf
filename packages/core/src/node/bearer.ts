import { timingSafeEqual } from 'node:crypto'

/**
 * How a server checks bearer tokens: one fixed token (compared in constant time), or a function that
 * gets the presented token and returns an identity (any truthy value, `true` for "accepted, no
 * identity") or a falsy value / throws to refuse it.
 */
export type TokenCheck = string | ((token: string) => unknown)

/** The outcome of a bearer-token check. */
export type TokenResult =
  | { ok: true; identity?: unknown }
  | { ok: false; status: 401; message: string; challenge: string }

/** Extracts the token from an `Authorization: Bearer <token>` header value. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (!value) return undefined
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(value)
  return match?.[1]
}

/**
 * Checks a presented token against the server's {@link TokenCheck}. `endpoint` names the server in
 * the refusal message. Default: `'libswarm endpoint'`.
 */
export async function checkToken(
  check: TokenCheck | undefined,
  token: string | undefined,
  endpoint = 'libswarm endpoint',
): Promise<TokenResult> {
  if (check === undefined) return { ok: true }
  if (token === undefined) {
    return {
      ok: false,
      status: 401,
      message: `this ${endpoint} requires a bearer token: send "Authorization: Bearer <token>"`,
      challenge: 'Bearer realm="libswarm"',
    }
  }
  let accepted: unknown
  if (typeof check === 'string') {
    const a = Buffer.from(token)
    const b = Buffer.from(check)
    accepted = a.length === b.length && timingSafeEqual(a, b)
  } else {
    try {
      accepted = await check(token)
    } catch {
      accepted = false
    }
  }
  if (!accepted) {
    return {
      ok: false,
      status: 401,
      message: `the bearer token was refused by this ${endpoint}`,
      challenge: 'Bearer realm="libswarm", error="invalid_token"',
    }
  }
  return accepted === true ? { ok: true } : { ok: true, identity: accepted }
}
