/** A whole cloud backend from a provider factory: the spec parsing, the common flags and the capabilities. */
import type { Backend, BackendContext, Capabilities, Service } from '@libswarm/core'
import { InvalidArgumentError } from '@libswarm/core'
import { type FlagKind, type ParsedFlags, parseFlags } from './args.ts'
import { type CloudServiceOptions, COMMON_FLAGS, COMMON_USAGE, cloudService, commonOptions } from './host.ts'
import type { CloudProvider } from './types.ts'

/** What every cloud backend declares: the account answers these verbs, instances spawn, start, stop and are watched. */
export const CLOUD_CAPABILITIES: Capabilities = {
  verbs: ['Attach', 'Get', 'Ls', 'Set', 'Spawn', 'Start', 'Stop', 'Watch'],
  spawn: true,
  startStop: true,
  watch: true,
}

/** What an adapter gives {@link cloudBackend}. */
export interface CloudBackendDefinition<R> {
  /** The backend's name (the first word of a spec): `ec2`. */
  name: string
  /** One line that says what it is. */
  summary: string
  /** The provider's part of the usage line, after the name: `[--region=REGION] [--endpoint=URL] [--profile=NAME]`. */
  usage: string
  /** The provider's spec flags, name -> kind (`value`, `flag` or `repeat`). The common flags are added. */
  options: Readonly<Record<string, FlagKind>>
  /**
   * Makes the provider from the parsed spec. Throw InvalidArgumentError (ending with `usage`) for a
   * bad spec; `parsed.positional` holds the positionals (refuse those you do not take).
   */
  connect(
    parsed: ParsedFlags,
    context: BackendContext,
    usage: string,
  ): CloudProvider<R> | Promise<CloudProvider<R>>
}

/**
 * A `Backend` for a cloud provider: parses `NAME [provider flags] [common flags]`, connects the
 * provider and serves it with {@link cloudService} (progress and retries logged to `context.log`,
 * unhandled verbs forwarded to `context.out`, everything closed when `context.signal` fires).
 *
 * @example
 * export const backend = cloudBackend({
 *   name: 'mycloud',
 *   summary: 'MyCloud servers as a libswarm service',
 *   usage: '[--endpoint=URL]',
 *   options: { endpoint: 'value' },
 *   connect: (parsed) => new MyCloudProvider(parsed.values.get('endpoint')),
 * })
 */
export function cloudBackend<R>(definition: CloudBackendDefinition<R>): Backend & { readonly usage: string } {
  const usage = `${definition.name} ${definition.usage ? `${definition.usage} ` : ''}${COMMON_USAGE}`
  const tag = `adapter-${definition.name}`
  for (const flag of Object.keys(definition.options)) {
    if (Object.hasOwn(COMMON_FLAGS, flag))
      throw new Error(`[cloud] ${definition.name}: option --${flag} is a common flag`)
  }
  const known = { ...COMMON_FLAGS, ...definition.options }
  return {
    name: definition.name,
    summary: definition.summary,
    usage,
    capabilities: CLOUD_CAPABILITIES,
    async spawn(args: string[], context: BackendContext): Promise<Service> {
      const parsed = parseFlags(args, known, `usage: ${usage}`, tag)
      const options: CloudServiceOptions = commonOptions(parsed, `usage: ${usage}`, tag)
      let provider: CloudProvider<R>
      try {
        provider = await definition.connect(parsed, context, `usage: ${usage}`)
      } catch (error) {
        if (error instanceof InvalidArgumentError && !error.message.includes(usage)) {
          throw new InvalidArgumentError(`${error.message}; usage: ${usage}`, { cause: error })
        }
        throw error
      }
      return cloudService(provider, {
        ...options,
        signal: context.signal,
        log: (line) => context.log(line),
        fallback: context.out,
      })
    },
  }
}
