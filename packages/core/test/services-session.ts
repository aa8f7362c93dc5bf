/**
 * Puts a service at the far end of a real session (over a loopback TCP connection) and returns the
 * proxy the near end sees. Returns a reason string when the session layer lacks what is needed.
 */
import type { Service } from '../src/index.ts'
import type { Exposed } from './services-fixture.ts'

export function sessionPair(
  _mod: Record<string, unknown>,
): string | ((service: Service) => Promise<Exposed>) {
  return 'the session layer does not export what the services tests need yet'
}
