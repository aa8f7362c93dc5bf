import type { DialOptions, ListenOptions, SessionLimits, Transport } from '@libswarm/core'

/** A case the transport cannot pass, skipped by full name with a reason (shown in the test output). */
export interface SkipEntry {
  /** Why, e.g. `in-memory sessions have no raw link to write garbage to`. */
  reason: string
  /** Full case names, `suite > case`, e.g. `bad-bytes > garbage after the handshake`. */
  tests: readonly string[]
}

/** How the suite reaches a transport. */
export interface TransportTestSetup {
  /** Shown in the suite's title, e.g. `tcp`. */
  name: string
  /**
   * The transport under test. May be undefined only for `memory://` URLs, which need none (then every
   * case that needs a raw link must be in `skip`).
   */
  transport: () => Transport | undefined | Promise<Transport | undefined>
  /** A fresh URL to listen on for one case, e.g. `tcp://127.0.0.1:0` or `memory://c-${n}`. */
  url: () => string
  /** Passed to `dial` (certificates, tokens, ...). */
  dialOptions?: Omit<DialOptions, 'signal'>
  /** Passed to `listen`. */
  listenOptions?: Omit<ListenOptions, 'signal'>
  /** Cases this transport cannot pass, each with its reason. A name that matches no case fails the suite. */
  skip?: readonly SkipEntry[]
  /** Scales the sizes of the heavy cases (100 MB streams, 10 000 channels). Default: 1. */
  scale?: number
  /** Extra session limits for both ends. */
  limits?: SessionLimits
}
