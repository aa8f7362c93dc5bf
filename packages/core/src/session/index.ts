/**
 * Sessions: many channels and byte streams over one link, the wire protocol (docs/PROTOCOL.md), the
 * in-memory transport, and dialling/listening by URL.
 */
export * from './connect.ts'
export * from './duplex-link.ts'
export * from './frames.ts'
export * from './link-pair.ts'
export { memorySessionPair } from './memory.ts'
export { createSession, DEFAULT_LIMITS } from './session.ts'
export * from './types.ts'
