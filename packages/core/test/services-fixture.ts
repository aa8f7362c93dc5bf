/**
 * The transports the services tests run over: the same test body gets a service either directly
 * (in memory) or as the far end of a real session, through `expose(service)`.
 */
import type { Service } from '../src/index.ts'

export interface Exposed {
  /** What the test calls: the service itself, or its proxy on the other side of a session. */
  service: Service
  /** Tears the session down (no-op in memory). */
  close(): Promise<void>
}

export interface Variant {
  name: string
  /** Why the variant cannot run here, or undefined. */
  skip: string | undefined
  expose(service: Service): Promise<Exposed>
}

const memory: Variant = {
  name: 'memory',
  skip: undefined,
  expose: async (service) => ({ service, close: async () => {} }),
}

/** Tries to load the session layer; the variant is skipped with the reason if it is not there yet. */
async function sessionVariant(): Promise<Variant> {
  let mod: Record<string, unknown>
  try {
    const path = '../src/session/index.ts'
    mod = (await import(/* @vite-ignore */ path)) as Record<string, unknown>
  } catch (error) {
    return {
      name: 'session',
      skip: `the session layer (packages/core/src/session/index.ts) is not available yet: ${(error as Error).message.split('\n')[0]}`,
      expose: () => Promise.reject(new Error('no session layer')),
    }
  }
  const { sessionPair } = await import('./services-session.ts')
  const expose = sessionPair(mod)
  if (typeof expose === 'string') {
    return { name: 'session', skip: expose, expose: () => Promise.reject(new Error(expose)) }
  }
  return { name: 'session', skip: undefined, expose }
}

export const variants: Variant[] = [memory, await sessionVariant()]
