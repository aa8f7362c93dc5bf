/**
 * A fake Amazon EC2 endpoint that follows the published Query API: form-encoded POSTs (or GETs)
 * with `Action` and `Version=2016-11-15`, SigV4-signed with a test key pair (or temporary credentials
 * it issues), XML answers and errors, `NextToken` paging, instance state codes. Any EC2 client
 * reaches it through its ordinary endpoint setting (`--endpoint-url`, `AWS_ENDPOINT_URL`). Its
 * instances and injections are a {@link FakeFleet} and its {@link Faults}.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FakeFleet, FakeFleetError, type FakeInstance, type Faults } from '@libswarm/cloud/testing'
import { amzDateMs, parseAuthorization, type SignedRequest, signatureMatches } from './sigv4.ts'
import {
  EC2_VERSION,
  type Ec2Extra,
  el,
  errorResponse,
  instanceXml,
  list,
  response,
  stateChangeXml,
} from './xml.ts'

/** Options of {@link startFakeEc2}. */
export interface FakeEc2Options {
  /** The region it answers for (requests signed for another are refused). Default: `us-east-1`. */
  region?: string
  /** Its instances and injections. Default: a new fleet with EC2-style ids. */
  fleet?: FakeFleet
  /** The long-term test key pair it accepts. Default: a fixed `AKIA...` test pair. */
  accessKeyId?: string
  /** The secret of that pair. */
  secretAccessKey?: string
  /** The account id in answers. Default: `123456789012`. */
  ownerId?: string
  /** Keep the last this many exchanges in {@link FakeEc2.exchanges} (for checks). Default: 0. */
  record?: number
  /** The interface to listen on. Default: `127.0.0.1`. */
  host?: string
}

/** Credentials, as the AWS SDKs take them. */
export interface FakeCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
}

/** One request and its answer, kept when `record` is set. */
export interface FakeExchange {
  action: string
  params: Record<string, string>
  status: number
  body: string
}

/** An answer the fake refuses a request with. */
class Ec2Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
const MAX_BODY = 1024 * 1024

/** A running fake EC2 endpoint (see the module doc). */
export class FakeEc2 {
  /** Where it listens: `http://127.0.0.1:PORT`. */
  readonly url: string
  /** The region it answers for. */
  readonly region: string
  /** Its instances. */
  readonly fleet: FakeFleet
  /** What it is told to do to its clients. */
  readonly faults: Faults
  /** The long-term test key pair it accepts. */
  readonly credentials: FakeCredentials
  /**
   * A container-credentials endpoint that issues temporary credentials on each GET: give it to any
   * AWS SDK or CLI as `AWS_CONTAINER_CREDENTIALS_FULL_URI`. `faults.expireCredentials()` makes the
   * ones issued so far expire (EC2 then answers `RequestExpired`).
   */
  readonly credentialsUrl: string
  /** The last exchanges (when `record` was given), oldest first. */
  readonly exchanges: FakeExchange[] = []
  readonly #server: Server
  readonly #ownerId: string
  readonly #record: number
  readonly #extra = new Map<string, Ec2Extra>()
  readonly #sessions = new Map<string, { secret: string; token: string; epoch: number }>()

  constructor(server: Server, options: FakeEc2Options, url: string) {
    this.#server = server
    this.url = url
    this.region = options.region ?? 'us-east-1'
    this.fleet = options.fleet ?? new FakeFleet({ zone: `${this.region}a` })
    this.faults = this.fleet.faults
    this.credentials = {
      accessKeyId: options.accessKeyId ?? 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: options.secretAccessKey ?? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    }
    this.credentialsUrl = `${url}/_fake/credentials`
    this.#ownerId = options.ownerId ?? '123456789012'
    this.#record = options.record ?? 0
  }

  /** Issues temporary credentials (an `ASIA...` key with a session token), valid until faults expire them. */
  issueSession(): FakeCredentials {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`
    const secretAccessKey = randomBytes(30).toString('base64')
    const sessionToken = randomBytes(48).toString('base64')
    this.#sessions.set(accessKeyId, {
      secret: secretAccessKey,
      token: sessionToken,
      epoch: this.faults.credentialEpoch,
    })
    return { accessKeyId, secretAccessKey, sessionToken, expiration: new Date(Date.now() + 3_600_000) }
  }

  /** Stops listening (open connections are closed). */
  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** Handles one HTTP request. */
  async handle(request: IncomingMessage, reply: ServerResponse): Promise<void> {
    const requestId = randomUUID()
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY) {
        this.#send(reply, 413, errorResponse('RequestEntityTooLarge', 'The request is too large.', requestId))
        return
      }
      chunks.push(chunk)
    }
    const body = Buffer.concat(chunks)
    const [path = '/', query = ''] = (request.url ?? '/').split('?', 2) as [string, string?]
    if (request.method === 'GET' && path === '/_fake/credentials') {
      const session = this.issueSession()
      reply.writeHead(200, { 'content-type': 'application/json' })
      reply.end(
        JSON.stringify({
          AccessKeyId: session.accessKeyId,
          SecretAccessKey: session.secretAccessKey,
          Token: session.sessionToken,
          Expiration: session.expiration!.toISOString(),
        }),
      )
      return
    }
    const params = new URLSearchParams(query)
    if (request.method === 'POST')
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.append(k, v)
    const flat = Object.fromEntries(params)
    const action = flat.Action ?? ''
    let status = 200
    let text: string
    try {
      if (request.method !== 'POST' && request.method !== 'GET')
        throw new Ec2Error(405, 'InvalidHttpRequest', `The HTTP method ${request.method} is not allowed.`)
      if (path !== '/') throw new Ec2Error(404, 'InvalidAction', `The resource ${path} does not exist.`)
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(request.headers))
        headers[name] = Array.isArray(value) ? value.join(',') : (value ?? '')
      const verdict = this.faults.admit(action || '(none)')
      if (verdict.throttle) throw new Ec2Error(503, 'RequestLimitExceeded', 'Request limit exceeded.')
      this.#authenticate({ method: request.method, path, query, headers, body })
      if (!action) throw new Ec2Error(400, 'MissingAction', 'The request must contain the parameter Action.')
      if (flat.Version !== EC2_VERSION)
        throw new Ec2Error(
          400,
          'NoSuchVersion',
          `An invalid or unsupported API version was given: ${flat.Version ?? '(none)'}; this endpoint speaks ${EC2_VERSION}.`,
        )
      text = response(action, requestId, this.#dispatch(action, params))
    } catch (error) {
      if (error instanceof Ec2Error) {
        status = error.status
        text = errorResponse(error.code, error.message, requestId)
      } else if (error instanceof FakeFleetError) {
        status = 400
        const code =
          error.reason === 'not-found'
            ? 'InvalidInstanceID.NotFound'
            : error.reason === 'incorrect-state'
              ? 'IncorrectInstanceState'
              : 'IdempotentParameterMismatch'
        text = errorResponse(code, error.message, requestId)
      } else {
        status = 500
        text = errorResponse('InternalError', 'An internal error has occurred.', requestId)
      }
    }
    if (this.#record > 0) {
      this.exchanges.push({ action, params: flat, status, body: text })
      if (this.exchanges.length > this.#record) this.exchanges.shift()
    }
    this.#send(reply, status, text, requestId)
  }

  #send(reply: ServerResponse, status: number, text: string, requestId = randomUUID()): void {
    reply.writeHead(status, {
      'content-type': 'text/xml;charset=UTF-8',
      'x-amzn-requestid': requestId,
      'content-length': Buffer.byteLength(text),
    })
    reply.end(text)
  }

  #authenticate(request: SignedRequest): void {
    const auth = parseAuthorization(request.headers.authorization)
    if (!request.headers.authorization)
      throw new Ec2Error(
        401,
        'MissingAuthenticationToken',
        'The request must contain a valid (registered) AWS access key ID.',
      )
    if (!auth)
      throw new Ec2Error(
        400,
        'IncompleteSignature',
        'The Authorization header is not a valid AWS4-HMAC-SHA256 signature.',
      )
    if (auth.service !== 'ec2' || auth.region !== this.region)
      throw new Ec2Error(
        401,
        'AuthFailure',
        `Credential should be scoped to a valid region and service: this endpoint is ec2 in ${this.region}, not ${auth.service} in ${auth.region}.`,
      )
    let secret: string
    let epoch: number | undefined
    if (auth.accessKeyId === this.credentials.accessKeyId) {
      secret = this.credentials.secretAccessKey
    } else {
      const session = this.#sessions.get(auth.accessKeyId)
      if (!session)
        throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')
      if (request.headers['x-amz-security-token'] !== session.token)
        throw new Ec2Error(401, 'AuthFailure', 'The security token included in the request is invalid.')
      secret = session.secret
      epoch = session.epoch
    }
    if (!signatureMatches(request, auth, secret))
      throw new Ec2Error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      )
    const at = amzDateMs(request.headers['x-amz-date'])
    if (
      !Number.isFinite(at) ||
      Math.abs(Date.now() - at) > 15 * 60_000 ||
      auth.date !== request.headers['x-amz-date']?.slice(0, 8)
    )
      throw new Ec2Error(400, 'RequestExpired', 'Request has expired.')
    if (epoch !== undefined && epoch < this.faults.credentialEpoch)
      throw new Ec2Error(400, 'RequestExpired', 'Request has expired.')
  }

  #dispatch(action: string, params: URLSearchParams): string {
    switch (action) {
      case 'DescribeInstances':
        return this.#describe(params)
      case 'RunInstances':
        return this.#run(params)
      case 'StartInstances':
        return this.#change(params, (id) => this.fleet.start(id))
      case 'StopInstances':
        return this.#change(params, (id) => this.fleet.stop(id, params.get('Force') === 'true'))
      case 'TerminateInstances':
        return this.#change(params, (id) => this.fleet.terminate(id))
      case 'CreateTags':
        return this.#tags(params, true)
      case 'DeleteTags':
        return this.#tags(params, false)
      case 'GetConsoleOutput':
        return this.#console(params)
      default:
        throw new Ec2Error(400, 'InvalidAction', `The action ${action} is not valid for this web service.`)
    }
  }

  #extraOf(instance: FakeInstance): Ec2Extra {
    let extra = this.#extra.get(instance.id)
    if (!extra) {
      extra = {
        reservationId: `r-${instance.id.slice(2)}`,
        ownerId: this.#ownerId,
        launchIndex: 0,
        subnetId: 'subnet-00000000',
        vpcId: 'vpc-00000000',
        securityGroups: ['sg-00000000'],
        clientToken: instance.token ?? '',
      }
      this.#extra.set(instance.id, extra)
    }
    return extra
  }

  #ids(params: URLSearchParams, prefix: string, required: boolean): string[] {
    const ids = indexed(params, prefix)
    if (required && ids.length === 0)
      throw new Ec2Error(400, 'MissingParameter', `The request must contain the parameter ${prefix}.`)
    for (const id of ids)
      if (!INSTANCE_ID.test(id)) throw new Ec2Error(400, 'InvalidInstanceID.Malformed', `Invalid id: "${id}"`)
    return ids
  }

  #describe(params: URLSearchParams): string {
    const ids = this.#ids(params, 'InstanceId', false)
    const maxText = params.get('MaxResults')
    if (ids.length > 0 && maxText !== null)
      throw new Ec2Error(
        400,
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      )
    let max: number | undefined
    if (maxText !== null) {
      max = Number(maxText)
      if (!Number.isInteger(max) || max < 5 || max > 1000)
        throw new Ec2Error(
          400,
          'InvalidParameterValue',
          `Value ( ${maxText} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
        )
    }
    let instances: FakeInstance[]
    if (ids.length > 0) {
      const missing = ids.filter((id) => !this.fleet.get(id))
      if (missing.length > 0)
        throw new Ec2Error(
          400,
          'InvalidInstanceID.NotFound',
          missing.length === 1
            ? `The instance ID '${missing[0]}' does not exist`
            : `The instance IDs '${missing.join(', ')}' do not exist`,
        )
      instances = ids.map((id) => this.fleet.get(id)!)
    } else {
      instances = this.fleet.list()
    }
    for (const filter of filters(params)) instances = instances.filter((i) => this.#matches(i, filter))
    const token = params.get('NextToken')
    if (token !== null) {
      const after = Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^v1:/, ''))
      if (!token || !Number.isInteger(after))
        throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${token}' for nextToken`)
      instances = instances.filter((i) => i.serial > after)
    }
    let next: string | undefined
    const size = max !== undefined || this.faults.pageSize > 0 ? this.faults.pageOf(max ?? 1000) : undefined
    if (size !== undefined && instances.length > size) {
      instances = instances.slice(0, size)
      next = Buffer.from(`v1:${instances.at(-1)!.serial}`).toString('base64url')
    }
    const reservations: string[] = []
    let current: { id: string; items: string[] } | undefined
    for (const instance of instances) {
      const extra = this.#extraOf(instance)
      if (!current || current.id !== extra.reservationId) {
        if (current) reservations.push(this.#reservation(current.id, current.items))
        current = { id: extra.reservationId, items: [] }
      }
      current.items.push(instanceXml(this.fleet, instance, extra))
    }
    if (current) reservations.push(this.#reservation(current.id, current.items))
    return list('reservationSet', reservations) + el('nextToken', next)
  }

  #reservation(id: string, items: string[]): string {
    return (
      el('reservationId', id) +
      el('ownerId', this.#ownerId) +
      list('groupSet', []) +
      list('instancesSet', items)
    )
  }

  #matches(instance: FakeInstance, filter: { name: string; values: string[] }): boolean {
    const { name, values } = filter
    const any = (value: string | undefined) =>
      value !== undefined && values.some((pattern) => wildcard(pattern).test(value))
    if (name === 'instance-id') return any(instance.id)
    if (name === 'instance-state-name')
      return any(this.fleet.stateOf(instance).replace('terminating', 'shutting-down'))
    if (name === 'instance-type') return any(instance.type)
    if (name === 'image-id') return any(instance.image)
    if (name === 'availability-zone') return any(instance.zone)
    if (name === 'client-token') return any(instance.token)
    if (name === 'tag-key') return [...instance.tags.keys()].some((key) => any(key))
    if (name.startsWith('tag:')) return any(instance.tags.get(name.slice(4)))
    throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${name}' is invalid`)
  }

  #run(params: URLSearchParams): string {
    const image = params.get('ImageId')
    if (!image) throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter ImageId')
    if (!/^ami-[0-9a-f]{8,17}$/.test(image))
      throw new Ec2Error(400, 'InvalidAMIID.Malformed', `Invalid id: "${image}" (expecting "ami-...")`)
    const minText = params.get('MinCount')
    const maxText = params.get('MaxCount')
    if (minText === null || maxText === null)
      throw new Ec2Error(
        400,
        'MissingParameter',
        `The request must contain the parameter ${minText === null ? 'MinCount' : 'MaxCount'}`,
      )
    const min = Number(minText)
    const max = Number(maxText)
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min || max > 20)
      throw new Ec2Error(
        400,
        'InvalidParameterValue',
        `MinCount (${minText}) and MaxCount (${maxText}) must be 1 <= MinCount <= MaxCount <= 20 here`,
      )
    const type = params.get('InstanceType') ?? 'm1.small'
    if (!/^[a-z0-9-]+\.[a-z0-9]+$/.test(type))
      throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${type}' for InstanceType.`)
    const zone = params.get('Placement.AvailabilityZone') ?? undefined
    if (zone !== undefined && !zone.startsWith(this.region))
      throw new Ec2Error(400, 'InvalidParameterValue', `Invalid availability zone: [${zone}]`)
    const token = params.get('ClientToken') ?? undefined
    if (token !== undefined && token.length > 64)
      throw new Ec2Error(400, 'InvalidParameterValue', 'The client token must be at most 64 characters long.')
    let userData: string | undefined
    const encoded = params.get('UserData')
    if (encoded !== null) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
        throw new Ec2Error(400, 'InvalidParameterValue', 'Invalid BASE64 encoding of user data.')
      userData = Buffer.from(encoded, 'base64').toString('utf8')
    }
    const tags: Record<string, string> = {}
    for (let n = 1; params.has(`TagSpecification.${n}.ResourceType`); n++) {
      const resource = params.get(`TagSpecification.${n}.ResourceType`)
      for (let m = 1; params.has(`TagSpecification.${n}.Tag.${m}.Key`); m++) {
        const key = params.get(`TagSpecification.${n}.Tag.${m}.Key`)!
        if (key.startsWith('aws:'))
          throw new Ec2Error(
            400,
            'InvalidParameterValue',
            `Tag keys starting with 'aws:' are reserved for internal use`,
          )
        if (resource === 'instance') tags[key] = params.get(`TagSpecification.${n}.Tag.${m}.Value`) ?? ''
      }
    }
    const groups = indexed(params, 'SecurityGroupId')
    const fingerprint = JSON.stringify(
      [...params]
        .filter(([k]) => !['ClientToken', 'Action', 'Version'].includes(k))
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    )
    const reservationId = `r-${randomBytes(9).toString('hex').slice(0, 17)}`
    const made: FakeInstance[] = []
    for (let index = 0; index < max; index++) {
      const { instance, created } = this.fleet.create({
        image,
        type,
        zone,
        tags,
        userData,
        token: token === undefined ? undefined : index === 0 ? token : `${token}#${index}`,
        fingerprint,
      })
      if (created)
        this.#extra.set(instance.id, {
          reservationId,
          ownerId: this.#ownerId,
          launchIndex: index,
          keyName: params.get('KeyName') ?? undefined,
          subnetId: params.get('SubnetId') ?? 'subnet-00000000',
          vpcId: 'vpc-00000000',
          securityGroups: groups.length > 0 ? groups : ['sg-00000000'],
          clientToken: token ?? '',
        })
      made.push(instance)
    }
    const extra = this.#extraOf(made[0]!)
    return (
      el('reservationId', extra.reservationId) +
      el('ownerId', this.#ownerId) +
      list('groupSet', []) +
      list(
        'instancesSet',
        made.map((instance) => instanceXml(this.fleet, instance, this.#extraOf(instance))),
      )
    )
  }

  #change(params: URLSearchParams, act: (id: string) => { previous: string; current: string }): string {
    const ids = this.#ids(params, 'InstanceId', true)
    for (const id of ids) this.fleet.need(id) // all or nothing
    const changes = ids.map((id) => {
      const { previous, current } = act(id)
      return stateChangeXml(id, previous as never, current as never)
    })
    return list('instancesSet', changes)
  }

  #tags(params: URLSearchParams, create: boolean): string {
    const ids = indexed(params, 'ResourceId')
    if (ids.length === 0)
      throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter ResourceId')
    const set: Record<string, string> = {}
    const unset: string[] = []
    for (let n = 1; params.has(`Tag.${n}.Key`); n++) {
      const key = params.get(`Tag.${n}.Key`)!
      if (key.startsWith('aws:'))
        throw new Ec2Error(
          400,
          'InvalidParameterValue',
          `Tag keys starting with 'aws:' are reserved for internal use`,
        )
      if (create) set[key] = params.get(`Tag.${n}.Value`) ?? ''
      else unset.push(key)
    }
    if (create && Object.keys(set).length === 0)
      throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter Tag')
    for (const id of ids) {
      if (!INSTANCE_ID.test(id)) throw new Ec2Error(400, 'InvalidID', `The ID '${id}' is not valid`)
      this.fleet.need(id)
    }
    for (const id of ids) this.fleet.tag(id, set, unset)
    return el('return', true)
  }

  #console(params: URLSearchParams): string {
    const id = params.get('InstanceId')
    if (!id) throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter InstanceId')
    if (!INSTANCE_ID.test(id)) throw new Ec2Error(400, 'InvalidInstanceID.Malformed', `Invalid id: "${id}"`)
    const text = this.fleet.console(id)
    return (
      el('instanceId', id) +
      el('timestamp', new Date().toISOString()) +
      el('output', Buffer.from(text).toString('base64'))
    )
  }
}

/** The values of `Prefix.1`, `Prefix.2`, ... in order. */
function indexed(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = []
  for (let n = 1; params.has(`${prefix}.${n}`); n++) values.push(params.get(`${prefix}.${n}`)!)
  return values
}

/** `Filter.N.Name` with its `Filter.N.Value.M`. */
function filters(params: URLSearchParams): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = []
  for (let n = 1; params.has(`Filter.${n}.Name`); n++) {
    out.push({ name: params.get(`Filter.${n}.Name`)!, values: indexed(params, `Filter.${n}.Value`) })
  }
  return out
}

/** An EC2 filter value (`*` and `?` wildcards) as a regular expression. */
function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}

/**
 * Starts a fake EC2 endpoint on a free loopback port.
 *
 * @example
 * const ec2 = await startFakeEc2()
 * // aws --endpoint-url ${ec2.url} --region us-east-1 ec2 describe-instances
 * // (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY = ec2.credentials)
 * await ec2.close()
 */
export async function startFakeEc2(options: FakeEc2Options = {}): Promise<FakeEc2> {
  let fake: FakeEc2 | undefined
  const server = createServer((request, reply) => {
    fake!.handle(request, reply).catch(() => {
      if (!reply.headersSent) reply.writeHead(500)
      reply.end()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, options.host ?? '127.0.0.1', () => resolve())
  })
  const { address, port } = server.address() as AddressInfo
  fake = new FakeEc2(server, options, `http://${address}:${port}`)
  return fake
}
