import { parseArgs } from 'node:util'

/** How swarmd formats what it prints on stderr. */
export type LogFormat = 'text' | 'json'

/** The parsed command line. */
export interface Options {
  help: boolean
  version: boolean
  /** URLs to serve the pipeline's head on (`--listen`, repeatable). */
  listen: string[]
  /** `--config FILE`; undefined means `swarmd.config.json` in the cwd if it exists. */
  config: string | undefined
  logFormat: LogFormat
  /** `--quiet`: no progress lines, only stage logs and errors. */
  quiet: boolean
  /** The stage specs, first to last: `['cli', 'debug', 'simulator']`. */
  stages: string[]
  /** Certificate files and the bearer token for tls://, https:// and wss:// (and tokens on http2://, ws://). */
  security: SecurityFlags
}

/** `--tls-cert`, `--tls-key`, `--tls-ca` (file paths) and `--token`. */
export interface SecurityFlags {
  /** `--tls-cert FILE`: this side's certificate chain (PEM): the server's with --listen, the client's for remote. */
  cert?: string
  /** `--tls-key FILE`: the private key of --tls-cert (PEM). */
  key?: string
  /**
   * `--tls-ca FILE`: CA certificates (PEM). With --listen, clients must present a certificate signed by
   * them (mutual TLS); for remote, the server's certificate must be signed by them.
   */
  ca?: string
  /** `--token TOKEN`: the bearer token a --listen endpoint requires, and that remote sends (http2 and websocket). */
  token?: string
}

/** A command line swarmd cannot run: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Parses swarmd's arguments (without `node` and the script). Throws {@link UsageError}. */
export function parseOptions(argv: readonly string[]): Options {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new UsageError(error instanceof Error ? stripCode(error.message) : String(error))
  }
  const { values, positionals } = parsed
  const logFormat = values['log-format'] ?? 'text'
  if (logFormat !== 'text' && logFormat !== 'json') {
    throw new UsageError(`--log-format must be "text" or "json", not "${logFormat}"`)
  }
  const listen = values.listen ?? []
  for (const url of listen) {
    if (!URL.canParse(url)) {
      throw new UsageError(
        `--listen needs a URL such as tcp://127.0.0.1:4242 or unix:///tmp/swarmd.sock, not "${url}"`,
      )
    }
  }
  const stages = positionals.filter((spec) => spec.trim() !== '')
  if (positionals.length !== stages.length) throw new UsageError('a stage spec is empty')
  if (listen.length > 0 && stages.length === 0) {
    throw new UsageError(
      '--listen needs a pipeline to serve, e.g. swarmd --listen tcp://127.0.0.1:4242 simulator',
    )
  }
  const security: SecurityFlags = {}
  if (values['tls-cert'] !== undefined) security.cert = values['tls-cert']
  if (values['tls-key'] !== undefined) security.key = values['tls-key']
  if (values['tls-ca'] !== undefined) security.ca = values['tls-ca']
  if (values.token !== undefined) security.token = values.token
  if ((security.cert === undefined) !== (security.key === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: give both files (PEM)')
  }
  if (security.token === '') throw new UsageError('--token needs a non-empty token')
  return {
    help: values.help ?? false,
    version: values.version ?? false,
    listen,
    config: values.config,
    logFormat,
    quiet: values.quiet ?? false,
    stages,
    security,
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      listen: { type: 'string', short: 'l', multiple: true },
      config: { type: 'string', short: 'c' },
      'log-format': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      token: { type: 'string' },
    },
  })
}

function stripCode(message: string): string {
  // parseArgs messages end with a hint about `--` that suits us; drop only the error code prefix.
  return message.replace(/^\w+ \[ERR_PARSE_ARGS_\w+\]: /, '')
}

/** The text of `swarmd --help`. */
export const HELP = `swarmd: compose libswarm services from the command line, like a unix pipeline

Usage:
  swarmd                          list the installed backends
  swarmd [options] SPEC [SPEC...] run a pipeline: each stage's output is the next one's input
  swarmd --help | --version

A SPEC is one stage: a backend name and its arguments, quoted as one shell word:
  swarmd cli debug simulator
  swarmd --listen unix:///tmp/swarmd.sock debug 'simulator --log-interval 1000'
  swarmd cli 'remote unix:///tmp/swarmd.sock'

Options:
  -l, --listen URL        serve the pipeline's head on URL (tcp://, unix://, tls://, http2://,
                          https://, ws://, wss://); repeatable
      --tls-cert FILE     certificate chain (PEM): the server's for --listen tls://, https://,
                          wss://; the client's (mutual TLS) for remote
      --tls-key FILE      the private key of --tls-cert (PEM)
      --tls-ca FILE       CA certificates (PEM): with --listen, require client certificates
                          signed by them; for remote, trust servers signed by them
      --token TOKEN       bearer token (http2://, https://, ws://, wss://): required by --listen,
                          sent by remote (default: $SWARMD_TOKEN)
  -c, --config FILE       read adapters from FILE (default: ./swarmd.config.json if present)
      --log-format FMT    "text" (default) or "json": one JSON object per line on stderr
  -q, --quiet             no progress lines, only stage logs and errors
  -h, --help              show this help
  -V, --version           print the version

Built-in backends: cli (an interactive prompt), remote URL (a remote swarmd as one stage).
Adapters load from installed @libswarm/adapter-* packages and from the config file:
  { "adapters": ["some-package", "./local/adapter"] }

Exit codes: 0 clean stop, 1 a stage failed, 2 bad usage. SIGINT/SIGTERM stop every stage;
a second SIGINT exits at once. Docs: docs/SWARMD.md
`
