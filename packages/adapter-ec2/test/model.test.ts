/**
 * The fake's answers, and the requests it understood, checked against EC2's published model:
 * botocore's `data/ec2/2016-11-15/service-2.json(.gz)`, read from the Python botocore on this machine
 * (pyenv's `python3` first, then Debian's `/usr/bin/python3`, or `$BOTOCORE_DATA`). Every element
 * of every XML answer must be a member of the operation's output shape (by its `locationName`, lists
 * as `item`s, integers, booleans and timestamps well formed); every request parameter must name a
 * member of the input shape the way the EC2 Query protocol serializes it.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2'
import { Client, notImplemented } from '@libswarm/core'
import { XMLParser } from 'fast-xml-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import { type FakeEc2, startFakeEc2 } from '../src/testing.ts'
import { FAST, isolateAws } from './env.ts'

interface Member {
  shape: string
  locationName?: string
  queryName?: string
}
interface Shape {
  type: string
  members?: Record<string, Member>
  member?: Member
}
interface Model {
  operations: Record<string, { input?: { shape: string }; output?: { shape: string } }>
  shapes: Record<string, Shape>
}

/** Where botocore's EC2 model is, or why it cannot be found. */
function findModel(): { file: string } | { missing: string } {
  const tried: string[] = []
  const dirs: string[] = []
  if (process.env.BOTOCORE_DATA) dirs.push(process.env.BOTOCORE_DATA)
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const dir = execFileSync(
        python,
        ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: 20_000,
        },
      ).trim()
      dirs.push(join(dir, 'data'))
    } catch {
      tried.push(`${python} has no botocore`)
    }
  }
  for (const dir of dirs) {
    for (const name of ['service-2.json.gz', 'service-2.json']) {
      const file = join(dir, 'ec2', '2016-11-15', name)
      if (existsSync(file)) return { file }
      tried.push(`no ${file}`)
    }
  }
  return { missing: tried.join('; ') }
}

const found = findModel()
if ('missing' in found && process.env.CI)
  throw new Error(
    `[adapter-ec2] the EC2 model is needed in CI (botocore's data/ec2/2016-11-15/service-2.json.gz): ${found.missing}. Install python3-botocore (Debian) or botocore (pip), or set BOTOCORE_DATA`,
  )

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/** Checks one parsed XML node against a shape; problems go to `errors`. */
function checkNode(model: Model, value: unknown, shapeName: string, path: string, errors: string[]): void {
  const shape = model.shapes[shapeName]
  if (!shape) return void errors.push(`${path}: the model has no shape ${shapeName}`)
  if (shape.type === 'structure') {
    if (value === '') return // an empty structure
    if (typeof value !== 'object' || value === null)
      return void errors.push(`${path}: expected elements, got text`)
    for (const [key, children] of Object.entries(value as Record<string, unknown[]>)) {
      const entry = Object.entries(shape.members ?? {}).find(([name, m]) => (m.locationName ?? name) === key)
      if (!entry) {
        errors.push(`${path}/${key}: not a member of ${shapeName}`)
        continue
      }
      for (const child of children) checkNode(model, child, entry[1].shape, `${path}/${key}`, errors)
    }
    return
  }
  if (shape.type === 'list') {
    if (value === '') return
    const item = shape.member?.locationName ?? 'member'
    for (const [key, children] of Object.entries(value as Record<string, unknown[]>)) {
      if (key !== item) {
        errors.push(`${path}/${key}: a list of ${shapeName} holds <${item}> elements`)
        continue
      }
      for (const child of children) checkNode(model, child, shape.member!.shape, `${path}/${item}`, errors)
    }
    return
  }
  if (typeof value !== 'string') return void errors.push(`${path}: expected text for ${shape.type}`)
  if (shape.type === 'integer' || shape.type === 'long') {
    if (!/^-?\d+$/.test(value)) errors.push(`${path}: ${JSON.stringify(value)} is not an integer`)
  } else if (shape.type === 'boolean') {
    if (value !== 'true' && value !== 'false')
      errors.push(`${path}: ${JSON.stringify(value)} is not a boolean`)
  } else if (shape.type === 'timestamp') {
    if (Number.isNaN(Date.parse(value))) errors.push(`${path}: ${JSON.stringify(value)} is not a timestamp`)
  }
}

/** Checks a request parameter name (`Filter.1.Value.2`) against the input shape, EC2 Query style. */
function checkParam(model: Model, key: string, shapeName: string, errors: string[], action: string): void {
  const segments = key.split('.')
  let shape = model.shapes[shapeName]!
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (shape.type === 'list') {
      if (!/^\d+$/.test(segment))
        return void errors.push(`${action} ${key}: a list wants an index at ${segment}`)
      shape = model.shapes[shape.member!.shape]!
      continue
    }
    if (shape.type !== 'structure')
      return void errors.push(`${action} ${key}: ${segment} goes below a scalar`)
    const entry = Object.entries(shape.members ?? {}).find(
      ([name, m]) => (m.queryName ?? (m.locationName ? capitalize(m.locationName) : name)) === segment,
    )
    if (!entry) return void errors.push(`${action} ${key}: ${segment} is not a member of the input`)
    shape = model.shapes[entry[1].shape]!
  }
}

describe.skipIf('missing' in found)(
  `the fake EC2 against botocore's model${'missing' in found ? ` (skipped: ${found.missing})` : ''}`,
  () => {
    let ec2: FakeEc2
    let model: Model
    const parser = new XMLParser({
      ignoreAttributes: true,
      isArray: () => true,
      parseTagValue: false,
      trimValues: false,
    })

    beforeAll(async () => {
      const file = (found as { file: string }).file
      const raw = readFileSync(file)
      model = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as Model
      isolateAws()
      ec2 = await startFakeEc2({ record: 10_000 })
      process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
      process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
    })
    afterAll(() => ec2?.close())

    it('answers and understands every action the adapter uses the way the model says', async () => {
      const controller = new AbortController()
      const service = await backend.spawn(
        [`--endpoint=${ec2.url}`, '--region=us-east-1', '--page-size=5', ...FAST],
        {
          out: notImplemented,
          signal: controller.signal,
          log: () => {},
          spawn: () => Promise.reject(new Error('unused')),
        },
      )
      const client = new Client(service)
      try {
        ec2.faults.transitionMs = 100
        const web = await client.spawn([
          'web',
          '--image=ami-12345678',
          '--type=t3.micro',
          '--tag=team=ops',
          '--user-data=#!/bin/sh',
          '--key-name=k',
          '--security-group=sg-1,sg-2',
          '--zone=us-east-1b',
        ])
        ec2.fleet.populate(12, { image: 'ami-12345678', type: 't3.micro', namePrefix: 'bulk-' })
        expect((await client.call('Ls', ['--long', '--full'])).args.length).toBe(13)
        await web.set(['stage=prod', '--delete=team'])
        await web.stop()
        await web.start()
        const logs = await client.open('Attach', ['web', '--logs'])
        for await (const _ of logs.rest) {
          /* drain */
        }
        await client.stop(['--rm', '--force', 'web'])
        // Errors, as EC2 answers them.
        ec2.faults.throttle(1)
        await client.ls()
        const sdk = new EC2Client({ region: 'us-east-1', endpoint: ec2.url, maxAttempts: 1 })
        await expect(
          sdk.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
        ).rejects.toMatchObject({
          name: 'InvalidInstanceID.NotFound',
        })
        await expect(
          sdk.send(new RunInstancesCommand({ ImageId: 'nope', MinCount: 1, MaxCount: 1 })),
        ).rejects.toMatchObject({
          name: 'InvalidAMIID.Malformed',
        })
        await expect(sdk.send(new DescribeInstancesCommand({ MaxResults: 3 }))).rejects.toMatchObject({
          name: 'InvalidParameterValue',
        })
        sdk.destroy()
      } finally {
        controller.abort()
      }

      const errors: string[] = []
      const actions = new Set<string>()
      for (const exchange of ec2.exchanges) {
        const op = model.operations[exchange.action]
        expect(op, `the model has the operation ${exchange.action}`).toBeDefined()
        actions.add(exchange.action)
        for (const key of Object.keys(exchange.params)) {
          if (key === 'Action' || key === 'Version') continue
          checkParam(model, key, op!.input!.shape, errors, exchange.action)
        }
        const doc = parser.parse(exchange.body) as Record<string, unknown[]>
        if (exchange.status !== 200) {
          const [response] = doc.Response as Record<string, unknown[]>[]
          const [error] = (response!.Errors![0] as Record<string, unknown[]>).Error as Record<
            string,
            string[]
          >[]
          expect(error!.Code![0]).toMatch(/^[A-Za-z.]+$/)
          expect(typeof error!.Message![0]).toBe('string')
          continue
        }
        const [root] = doc[`${exchange.action}Response`] as Record<string, unknown[]>[]
        expect(root, `${exchange.action} answers <${exchange.action}Response>`).toBeDefined()
        const { requestId, return: ret, ...rest } = root as Record<string, unknown[]>
        expect(requestId).toHaveLength(1)
        if (op!.output) checkNode(model, rest, op!.output.shape, exchange.action, errors)
        else expect(ret).toEqual(['true'])
      }
      expect(errors).toEqual([])
      expect([...actions].sort()).toEqual([
        'CreateTags',
        'DeleteTags',
        'DescribeInstances',
        'GetConsoleOutput',
        'RunInstances',
        'StartInstances',
        'StopInstances',
        'TerminateInstances',
      ])
      // Pages of five over 13 instances, and the errors, were all among what was checked.
      expect(ec2.exchanges.filter((e) => e.status !== 200).map((e) => e.status)).toEqual(
        expect.arrayContaining([503, 400]),
      )
    })
  },
)
