import {
  InvalidArgumentError,
  LibswarmError,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel'
import { Etcd3, GRPCUnavailableError } from 'etcd3'

/** Options of {@link connectEtcd}. */
export interface EtcdConnectOptions {
  /** Milliseconds a single request (not a watch or keepalive stream) may take. Default: 5000. */
  timeout?: number
  /** Username and password when etcd has authentication enabled. Default: none. */
  auth?: { username: string; password: string }
}

/** Parses `URL[,URL...]` into etcd client hosts; throws InvalidArgumentError for anything else. */
export function parseEndpoints(spec: string, usage: string): string[] {
  const hosts = spec.split(',').filter((h) => h !== '')
  if (hosts.length === 0)
    throw new InvalidArgumentError(`[adapter-etcd] missing the etcd URL; usage: ${usage}`)
  for (const host of hosts) {
    let url: URL
    try {
      url = new URL(host)
    } catch {
      throw new InvalidArgumentError(
        `[adapter-etcd] bad etcd URL "${host}": expected http://HOST:PORT (e.g. http://127.0.0.1:2379); usage: ${usage}`,
      )
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(
        `[adapter-etcd] bad etcd URL "${host}": the scheme must be http or https; usage: ${usage}`,
      )
    }
  }
  return hosts
}

/** Opens an etcd v3 client with bounded unary calls (streams are not bounded). */
export function connectEtcd(hosts: string[], options: EtcdConnectOptions = {}): Etcd3 {
  const timeout = options.timeout ?? 5000
  return new Etcd3({
    hosts,
    dialTimeout: timeout,
    auth: options.auth,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    // etcd3's default breaker opens after three "recoverable" errors of any kind, including the
    // ones a single bad request causes (ResourceExhausted, Internal). One caller's bad input would
    // then fail every other caller for five seconds, so count only a host that cannot be reached.
    faultHandling: {
      host: () =>
        circuitBreaker(
          handleWhen((error) => error instanceof GRPCUnavailableError),
          { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(3) },
        ),
    },
  })
}

/** Maps an etcd3 / gRPC failure onto a libswarm error that names the adapter and what to do. */
export function etcdError(error: unknown, what: string, where: string): Error {
  if (error instanceof LibswarmError) return error
  const name = (error as Error)?.constructor?.name ?? ''
  const text = (error as Error)?.message ?? String(error)
  if (/Unavailable|ConnectFailed|DeadlineExceeded|ClientClosed|Cancelled|BrokenCircuit|Isolated/.test(name)) {
    return new UnavailableError(
      `[adapter-etcd] ${what}: cannot reach etcd at ${where} (${text}); check that etcd is running and the URL is right`,
      { cause: error },
    )
  }
  if (/Unauthenticated|Authentication|InvalidAuthToken|PermissionDenied/.test(name)) {
    return new UnauthorizedError(`[adapter-etcd] ${what}: etcd refused the credentials (${text})`, {
      cause: error,
    })
  }
  if (/LeaseInvalid|NotFound/.test(name)) {
    return new NotFoundError(`[adapter-etcd] ${what}: ${text}`, { cause: error })
  }
  return new UnavailableError(`[adapter-etcd] ${what} failed: ${text}`, { cause: error, retryable: false })
}
