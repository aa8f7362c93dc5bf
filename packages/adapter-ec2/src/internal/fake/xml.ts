/**
 * The EC2 Query protocol's XML answers: `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
 * with the output shape's members under their `locationName`s, lists as `<item>` elements, and errors
 * as `<Response><Errors><Error><Code>...`. The element names follow botocore's EC2 model (a test checks
 * every answer against it).
 */
import type { FakeFleet, FakeInstance, FakeState } from '@libswarm/cloud/testing'

/** The EC2 API version the fake speaks. */
export const EC2_VERSION = '2016-11-15'
const XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`

/** EC2's instance state codes (the low byte of `instanceState.code`). */
export const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
}

/** EC2's name for a fleet state. */
export function ec2StateName(state: FakeState): string {
  return state === 'terminating' ? 'shutting-down' : state
}

/** Escapes text for an XML element. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** `<name>text</name>`, or nothing when `value` is undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return ''
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

/** `<name>` around already-rendered children. */
export function wrap(name: string, children: string): string {
  return `<${name}>${children}</${name}>`
}

/** A list: `<name><item>...</item>...</name>` (empty lists as `<name/>`). */
export function list(name: string, items: string[]): string {
  return items.length === 0
    ? `<${name}/>`
    : `<${name}>${items.map((i) => `<item>${i}</item>`).join('')}</${name}>`
}

/** The whole answer document of `action`. */
export function response(action: string, requestId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}">${el('requestId', requestId)}${body}</${action}Response>`
}

/** An EC2 error document. */
export function errorResponse(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', code)}${el('Message', message)}</Error></Errors>${el('RequestID', requestId)}</Response>`
}

/** What the fake keeps about an instance besides the fleet's record. */
export interface Ec2Extra {
  reservationId: string
  ownerId: string
  launchIndex: number
  keyName?: string
  subnetId: string
  vpcId: string
  securityGroups: string[]
  clientToken: string
}

/** `<instanceState>`-like `{ code, name }`. */
export function stateXml(tag: string, state: FakeState): string {
  const name = ec2StateName(state)
  return wrap(tag, el('code', STATE_CODES[name]) + el('name', name))
}

/** One `Instance` (the members of the `Instance` shape that an instance of this fake has). */
export function instanceXml(fleet: FakeFleet, instance: FakeInstance, extra: Ec2Extra): string {
  const state = fleet.stateOf(instance)
  const name = ec2StateName(state)
  const running = state === 'running' || state === 'pending'
  const privateDns = `ip-${instance.privateIp.replace(/\./g, '-')}.ec2.internal`
  const tags = [...instance.tags].map(([key, value]) => el('key', key) + el('value', value))
  const reason =
    state === 'stopped' || state === 'stopping' || state === 'terminated' || state === 'terminating'
      ? `${instance.reason} (${new Date(instance.phase.since)
          .toISOString()
          .replace(/\.\d+Z$/, ' GMT')
          .replace('T', ' ')})`
      : ''
  return [
    el('instanceId', instance.id),
    el('imageId', instance.image),
    stateXml('instanceState', state),
    el('privateDnsName', name === 'terminated' ? '' : privateDns),
    el('dnsName', running ? `ec2-${instance.publicIp.replace(/\./g, '-')}.compute-1.amazonaws.com` : ''),
    el('reason', reason),
    el('keyName', extra.keyName),
    el('amiLaunchIndex', extra.launchIndex),
    list('productCodes', []),
    el('instanceType', instance.type),
    el('launchTime', new Date(instance.launchedAt).toISOString()),
    wrap('placement', el('availabilityZone', instance.zone) + el('groupName', '') + el('tenancy', 'default')),
    wrap('monitoring', el('state', 'disabled')),
    name === 'terminated' ? '' : el('subnetId', extra.subnetId),
    name === 'terminated' ? '' : el('vpcId', extra.vpcId),
    name === 'terminated' ? '' : el('privateIpAddress', instance.privateIp),
    running ? el('ipAddress', instance.publicIp) : '',
    el('sourceDestCheck', true),
    list(
      'groupSet',
      extra.securityGroups.map(
        (id) => el('groupId', id) + el('groupName', id === 'sg-00000000' ? 'default' : id),
      ),
    ),
    state === 'stopped' || state === 'terminated'
      ? wrap(
          'stateReason',
          el('code', 'Client.UserInitiatedShutdown') +
            el('message', 'Client.UserInitiatedShutdown: User initiated shutdown'),
        )
      : '',
    el('architecture', 'x86_64'),
    el('rootDeviceType', 'ebs'),
    el('rootDeviceName', '/dev/xvda'),
    list('blockDeviceMapping', []),
    el('virtualizationType', 'hvm'),
    el('clientToken', extra.clientToken),
    list('tagSet', tags),
    el('hypervisor', 'xen'),
    list('networkInterfaceSet', []),
    el('ebsOptimized', false),
    el('enaSupport', true),
    wrap('cpuOptions', el('coreCount', 1) + el('threadsPerCore', 2)),
    wrap('capacityReservationSpecification', el('capacityReservationPreference', 'open')),
    wrap('hibernationOptions', el('configured', false)),
    wrap(
      'metadataOptions',
      el('state', 'applied') +
        el('httpTokens', 'required') +
        el('httpPutResponseHopLimit', 2) +
        el('httpEndpoint', 'enabled'),
    ),
    wrap('enclaveOptions', el('enabled', false)),
    el('platformDetails', 'Linux/UNIX'),
    el('usageOperation', 'RunInstances'),
    el('usageOperationUpdateTime', new Date(instance.createdAt).toISOString()),
    wrap('maintenanceOptions', el('autoRecovery', 'default')),
    el('currentInstanceBootMode', 'legacy-bios'),
  ].join('')
}

/** One `InstanceStateChange`. */
export function stateChangeXml(id: string, previous: FakeState, current: FakeState): string {
  return el('instanceId', id) + stateXml('currentState', current) + stateXml('previousState', previous)
}
