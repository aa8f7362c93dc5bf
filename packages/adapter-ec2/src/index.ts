/**
 * @libswarm/adapter-ec2: Amazon EC2 instances as a libswarm service (backend `ec2`), on
 * `@aws-sdk/client-ec2` and `@libswarm/cloud`.
 *
 * One service per account and region: `Ls` lists the instances (`--long` with their descriptions,
 * following every `NextToken` page), `Attach NAME` gives one (by `Name` tag or id; `--logs` gives its
 * console output), `Spawn [NAME] --image=AMI ...` runs one (with a `ClientToken`, so a retried Spawn
 * never makes two), `Start`/`Stop` wait for the state and log the progress, `Stop --rm` terminates,
 * `Set KEY=VALUE` tags, `Get` answers the shape every cloud adapter shares, `Watch` polls with a diff
 * within a request budget. Region, endpoint and credentials come from where the AWS SDK finds them
 * (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_PROFILE`, `~/.aws/*`, roles), or from the spec's flags.
 *
 * @example
 * import { Client } from '@libswarm/core'
 * import { ec2Service } from '@libswarm/adapter-ec2'
 *
 * const ec2 = new Client(await ec2Service({ region: 'us-east-1' }, { log: console.error }))
 * const web = await ec2.spawn(['web', '--image=ami-0abcdef1234567890', '--type=t3.micro'])
 * console.log(await web.get()) // { name: 'web', id: 'i-…', state: 'running', addresses: {…}, …, record: {…} }
 * await web.stop(['--rm', '--force'])
 *
 * @packageDocumentation
 */

import type { Instance } from '@aws-sdk/client-ec2'
import { type CloudServiceOptions, cloudBackend, cloudService } from '@libswarm/cloud'
import { InvalidArgumentError, type Service } from '@libswarm/core'
import { connectEc2, type Ec2Options } from './internal/provider.ts'

export { connectEc2, type Ec2Options, Ec2Provider } from './internal/provider.ts'

/**
 * The `ec2` backend: `ec2 [--region=REGION] [--endpoint=URL] [--profile=NAME]` and the common cloud
 * flags (`--page-size`, `--wait-timeout`, `--watch-interval`, `--watch-budget`, ...; see the README).
 * - `--region`: default `AWS_REGION`, else the profile's region.
 * - `--endpoint`: default `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else EC2's.
 * - `--profile`: default `AWS_PROFILE`, else `default`.
 */
export const backend = cloudBackend<Instance>({
  name: 'ec2',
  summary: 'Amazon EC2 instances as a service: list, run, start, stop, tag, watch (on @aws-sdk/client-ec2)',
  usage: '[--region=REGION] [--endpoint=URL] [--profile=NAME]',
  options: { region: 'value', endpoint: 'value', profile: 'value' },
  connect: (parsed, _context, usage) => {
    if (parsed.positional.length > 0)
      throw new InvalidArgumentError(
        `[adapter-ec2] unexpected argument ${JSON.stringify(parsed.positional[0])}; ${usage}`,
      )
    const endpoint = parsed.values.get('endpoint')
    if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint))
      throw new InvalidArgumentError(
        `[adapter-ec2] --endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}; ${usage}`,
      )
    return connectEc2({
      region: parsed.values.get('region'),
      endpoint,
      profile: parsed.values.get('profile'),
    })
  },
})

/**
 * The EC2 service for one account and region, for programs (the backend is the same for pipelines).
 *
 * @example
 * const service = await ec2Service({ region: 'eu-west-1', profile: 'ops' }, { watchIntervalMs: 30_000 })
 */
export async function ec2Service(
  options: Ec2Options = {},
  service: CloudServiceOptions = {},
): Promise<Service> {
  return cloudService(await connectEc2(options), service)
}
