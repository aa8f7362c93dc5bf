/**
 * EC2 as a {@link CloudProvider}, on `@aws-sdk/client-ec2`. The SDK resolves the region, the
 * endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EC2`, `endpoint_url` in a profile) and the
 * credentials (environment, shared files and profiles, SSO, `credential_process`, container and
 * instance roles) as it does for every SDK user; its own retries are off, so that throttling is
 * retried once, by the shared policy, within its budget.
 */
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  type EC2ClientConfig,
  GetConsoleOutputCommand,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import type {
  CallOptions,
  CloudDescription,
  CloudFault,
  CloudProvider,
  CloudState,
  ConsoleChunk,
  Page,
  PageRequest,
  SpawnSpec,
  StopOptions,
} from '@libswarm/cloud'
import { InvalidArgumentError } from '@libswarm/core'

/** How the adapter reaches EC2. */
export interface Ec2Options {
  /** The region. Default: the SDK's (`AWS_REGION`, the profile's `region`). */
  region?: string
  /** The endpoint URL. Default: the SDK's (`AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else EC2's public endpoint). */
  endpoint?: string
  /** The shared-config profile. Default: the SDK's (`AWS_PROFILE`, else `default`). */
  profile?: string
  /** Credentials, or a provider of them, instead of the SDK's chain. */
  credentials?: EC2ClientConfig['credentials']
  /** Milliseconds a single HTTP request may take. Default: 30 000. */
  requestTimeoutMs?: number
}

const THROTTLED = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestThrottledException',
  'EC2ThrottledException',
  'TooManyRequestsException',
  'SlowDown',
])
const EXPIRED = new Set(['RequestExpired', 'ExpiredToken', 'ExpiredTokenException'])
const UNAUTHORIZED = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'IncompleteSignature',
  'OptInRequired',
  'Blocked',
  'CredentialsProviderError',
])
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'])
const CONFLICT = new Set([
  'IncorrectInstanceState',
  'IncorrectState',
  'IdempotentParameterMismatch',
  'OperationNotPermitted',
])
const UNAVAILABLE = new Set([
  'InternalError',
  'Unavailable',
  'ServiceUnavailable',
  'InsufficientInstanceCapacity',
])
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

const STATES: Record<string, CloudState> = {
  pending: 'pending',
  running: 'running',
  'shutting-down': 'terminating',
  terminated: 'terminated',
  stopping: 'stopping',
  stopped: 'stopped',
}

/** The EC2 provider (see the module doc). */
export class Ec2Provider implements CloudProvider<Instance> {
  readonly name = 'ec2'
  readonly where: string
  readonly maxPageSize = 1000
  readonly minPageSize = 5
  readonly idempotentCreate = true
  readonly spawnOptions = { subnet: true, 'key-name': true, 'security-group': true }
  readonly spawnUsage = '[--subnet=SUBNET_ID] [--key-name=NAME] [--security-group=SG_ID[,SG_ID...]]'
  readonly client: EC2Client
  readonly region: string
  readonly endpoint: string | undefined

  constructor(client: EC2Client, region: string, endpoint: string | undefined) {
    this.client = client
    this.region = region
    this.endpoint = endpoint
    this.where = `EC2 ${region} at ${endpoint ?? `https://ec2.${region}.amazonaws.com`}`
  }

  isId(text: string): boolean {
    return /^i-[0-9a-f]{8,17}$/.test(text)
  }

  async list(request: PageRequest): Promise<Page<Instance>> {
    const out = await this.client.send(
      new DescribeInstancesCommand({ MaxResults: request.pageSize, NextToken: request.cursor }),
      { abortSignal: request.signal },
    )
    return {
      items: (out.Reservations ?? []).flatMap((r) => r.Instances ?? []),
      next: out.NextToken || undefined,
    }
  }

  async get(id: string, options: CallOptions): Promise<Instance | undefined> {
    try {
      const out = await this.client.send(new DescribeInstancesCommand({ InstanceIds: [id] }), {
        abortSignal: options.signal,
      })
      return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id)
    } catch (error) {
      if ((error as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined
      throw error
    }
  }

  async findByName(name: string, options: CallOptions): Promise<Instance[]> {
    const found: Instance[] = []
    let next: string | undefined
    do {
      const out = await this.client.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'tag:Name', Values: [name.replace(/[*?\\]/g, '\\$&')] }],
          MaxResults: 1000,
          NextToken: next,
        }),
        { abortSignal: options.signal },
      )
      for (const r of out.Reservations ?? []) found.push(...(r.Instances ?? []))
      next = out.NextToken || undefined
    } while (next)
    // A filter value with wildcards escaped still matches by pattern on some endpoints: keep exact names.
    return found.filter((i) => nameOf(i) === name)
  }

  async create(spec: SpawnSpec, options: CallOptions & { token: string }): Promise<Instance> {
    if (!spec.image)
      throw new InvalidArgumentError(
        '[adapter-ec2] Spawn needs --image=AMI_ID (e.g. --image=ami-0abcdef1234567890)',
      )
    const tags = Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value }))
    if (spec.name) tags.unshift({ Key: 'Name', Value: spec.name })
    const groups = spec.extra.get('security-group')
    const input: RunInstancesCommandInput = {
      ImageId: spec.image,
      InstanceType: spec.type as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      ClientToken: options.token.slice(0, 64),
      TagSpecifications: tags.length > 0 ? [{ ResourceType: 'instance', Tags: tags }] : undefined,
      UserData: spec.userData === undefined ? undefined : Buffer.from(spec.userData).toString('base64'),
      Placement: spec.zone ? { AvailabilityZone: spec.zone } : undefined,
      SubnetId: spec.extra.get('subnet'),
      KeyName: spec.extra.get('key-name'),
      SecurityGroupIds: groups ? groups.split(',').filter(Boolean) : undefined,
    }
    const out = await this.client.send(new RunInstancesCommand(input), { abortSignal: options.signal })
    const instance = out.Instances?.[0]
    if (!instance?.InstanceId) throw new Error('RunInstances answered no instance')
    return instance
  }

  async start(id: string, options: CallOptions): Promise<void> {
    await this.client.send(new StartInstancesCommand({ InstanceIds: [id] }), { abortSignal: options.signal })
  }

  async stop(id: string, options: StopOptions): Promise<void> {
    await this.client.send(
      new StopInstancesCommand({ InstanceIds: [id], Force: options.force || undefined }),
      {
        abortSignal: options.signal,
      },
    )
  }

  async remove(id: string, options: CallOptions): Promise<void> {
    await this.client.send(new TerminateInstancesCommand({ InstanceIds: [id] }), {
      abortSignal: options.signal,
    })
  }

  async setTags(
    id: string,
    set: Record<string, string>,
    unset: string[],
    options: CallOptions,
  ): Promise<void> {
    const tags = Object.entries(set).map(([Key, Value]) => ({ Key, Value }))
    if (tags.length > 0)
      await this.client.send(new CreateTagsCommand({ Resources: [id], Tags: tags }), {
        abortSignal: options.signal,
      })
    if (unset.length > 0)
      await this.client.send(
        new DeleteTagsCommand({ Resources: [id], Tags: unset.map((Key) => ({ Key })) }),
        {
          abortSignal: options.signal,
        },
      )
  }

  async console(id: string, _cursor: string | undefined, options: CallOptions): Promise<ConsoleChunk> {
    const out = await this.client.send(new GetConsoleOutputCommand({ InstanceId: id }), {
      abortSignal: options.signal,
    })
    return { text: out.Output ? Buffer.from(out.Output, 'base64').toString('utf8') : '' }
  }

  describe(i: Instance): CloudDescription {
    if (!i.InstanceId) throw new Error('an instance without InstanceId')
    const tags: Record<string, string> = {}
    for (const tag of i.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? ''
    const stateName = i.State?.Name ?? 'unknown'
    const publicIps = [i.PublicIpAddress, i.Ipv6Address].filter((a): a is string => !!a)
    const privateIps = [i.PrivateIpAddress].filter((a): a is string => !!a)
    return {
      id: i.InstanceId,
      name: nameOf(i),
      state: STATES[stateName] ?? 'unknown',
      providerState: stateName,
      addresses: { public: publicIps, private: privateIps },
      image: i.ImageId ?? null,
      type: i.InstanceType ?? null,
      zone: i.Placement?.AvailabilityZone ?? null,
      tags,
      created: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : null,
    }
  }

  tokenOf(i: Instance): string | undefined {
    return i.ClientToken || undefined
  }

  classify(error: unknown): CloudFault {
    const e = error as {
      name?: string
      code?: string
      message?: string
      $fault?: string
      $metadata?: { httpStatusCode?: number }
      cause?: { code?: string }
    }
    const code = e.name ?? 'Error'
    const message = e.message || code
    const status = e.$metadata?.httpStatusCode
    const network = e.code ?? e.cause?.code
    if (THROTTLED.has(code) || status === 429) return { kind: 'throttled', message, code }
    if (EXPIRED.has(code))
      return { kind: 'expired', message, code, hint: "renew the credentials (or check this machine's clock)" }
    if (UNAUTHORIZED.has(code) || status === 401 || status === 403)
      return {
        kind: 'unauthorized',
        message,
        code,
        hint: 'check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile) and their permissions',
      }
    if (NOT_FOUND.has(code)) return { kind: 'not-found', message, code }
    if (CONFLICT.has(code)) return { kind: 'conflict', message, code }
    if (UNAVAILABLE.has(code) || e.$fault === 'server' || (status !== undefined && status >= 500))
      return { kind: 'unavailable', message, code }
    if ((network && NETWORK.has(network)) || code === 'TimeoutError' || code === 'RequestTimeout')
      return {
        kind: 'unavailable',
        message,
        code: network ?? code,
        hint: 'is the endpoint right (--endpoint, AWS_ENDPOINT_URL) and reachable?',
      }
    if (e.$fault === 'client' || status === 400 || error instanceof InvalidArgumentError)
      return { kind: 'invalid', message, code }
    return { kind: 'other', message, code }
  }

  async renewCredentials(): Promise<void> {
    // The SDK's chain (and a provider given as `credentials`) refetches on forceRefresh.
    const credentials = this.client.config.credentials as unknown as (options?: {
      forceRefresh?: boolean
    }) => Promise<unknown>
    await credentials({ forceRefresh: true })
  }

  info(): Record<string, unknown> {
    return { region: this.region, endpoint: this.endpoint ?? `https://ec2.${this.region}.amazonaws.com` }
  }

  close(): void {
    this.client.destroy()
  }
}

/** An instance's `Name` tag, or `''`. */
function nameOf(i: Instance): string {
  return i.Tags?.find((t) => t.Key === 'Name')?.Value ?? ''
}

/**
 * Makes the EC2 client and provider. Fails with InvalidArgumentError when no region can be found,
 * rather than at the first request.
 */
export async function connectEc2(options: Ec2Options = {}): Promise<Ec2Provider> {
  const client = new EC2Client({
    region: options.region,
    endpoint: options.endpoint,
    profile: options.profile,
    credentials: options.credentials,
    maxAttempts: 1, // the shared policy retries, within its budget
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? 30_000, connectionTimeout: 10_000 },
  })
  let region: string
  try {
    region = await client.config.region()
  } catch {
    client.destroy()
    throw new InvalidArgumentError(
      '[adapter-ec2] no region: give --region=REGION, or set AWS_REGION, or a region in the profile (~/.aws/config)',
    )
  }
  if (!region) {
    client.destroy()
    throw new InvalidArgumentError('[adapter-ec2] no region: give --region=REGION, or set AWS_REGION')
  }
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_EC2 ?? process.env.AWS_ENDPOINT_URL
  return new Ec2Provider(client, region, endpoint)
}
