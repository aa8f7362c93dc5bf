/**
 * What is EC2's own: where the region, endpoint and credentials come from (as AWS SDK users set
 * them), and how EC2's refusals reach the caller.
 */
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { CloudInstance } from '@libswarm/cloud'
import {
  type Backend,
  Client,
  InvalidArgumentError,
  notImplemented,
  UnauthorizedError,
  UnavailableError,
} from '@libswarm/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import { type FakeEc2, startFakeEc2 } from '../src/testing.ts'
import { FAST, isolateAws } from './env.ts'

let ec2: FakeEc2
let home: string
const controllers: AbortController[] = []

async function open(b: Backend, args: string[]): Promise<{ client: Client; lines: string[] }> {
  const controller = new AbortController()
  controllers.push(controller)
  const lines: string[] = []
  const service = await b.spawn(args, {
    out: notImplemented,
    signal: controller.signal,
    log: (line) => lines.push(line),
    spawn: () => Promise.reject(new Error('unused')),
  })
  return { client: new Client(service, { timeout: 20_000 }), lines }
}

beforeAll(async () => {
  ec2 = await startFakeEc2({ region: 'eu-west-3' })
})
afterAll(() => ec2.close())
beforeEach(() => {
  home = isolateAws()
})
afterEach(() => {
  for (const c of controllers.splice(0)) c.abort()
  ec2.faults.reset()
  ec2.fleet.clear()
})

describe('configuration, as AWS SDK users give it', () => {
  it('takes the endpoint from AWS_ENDPOINT_URL and the region and keys from the environment', async () => {
    process.env.AWS_ENDPOINT_URL = ec2.url
    process.env.AWS_REGION = 'eu-west-3'
    process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
    const { client } = await open(backend, FAST)
    await client.spawn(['env-web', '--image=ami-12345678'])
    expect(await client.ls()).toEqual(['env-web'])
    expect(await client.get()).toMatchObject({ provider: 'ec2', region: 'eu-west-3', endpoint: ec2.url })
  })

  it('takes region and keys from a named profile (--profile), and its endpoint_url with AWS_PROFILE', async () => {
    writeFileSync(join(home, 'config'), `[profile ops]\nregion = eu-west-3\nendpoint_url = ${ec2.url}\n`)
    writeFileSync(
      join(home, 'credentials'),
      `[ops]\naws_access_key_id = ${ec2.credentials.accessKeyId}\naws_secret_access_key = ${ec2.credentials.secretAccessKey}\n`,
    )
    const named = await open(backend, ['--profile=ops', `--endpoint=${ec2.url}`, ...FAST])
    await named.client.spawn(['profile-web', '--image=ami-12345678'])
    expect((await named.client.get<CloudInstance>(['profile-web'])).zone).toBe('eu-west-3a')
    // The SDK reads a profile's endpoint_url for the environment's profile (AWS_PROFILE) only.
    process.env.AWS_PROFILE = 'ops'
    const configured = await open(backend, FAST)
    expect(await configured.client.ls()).toEqual(['profile-web'])
  })

  it('refuses a spec without a region, with a bad endpoint, or with an argument it does not take', async () => {
    await expect(open(backend, [`--endpoint=${ec2.url}`])).rejects.toThrow(
      /^\[adapter-ec2\] no region: give --region=REGION.*usage: ec2 /,
    )
    await expect(open(backend, ['--region=eu-west-3', '--endpoint=localhost:1'])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    )
    await expect(open(backend, ['--region=eu-west-3', 'extra'])).rejects.toThrow(
      /unexpected argument "extra"/,
    )
    await expect(open(backend, ['--region=eu-west-3', '--watch-budget=0'])).rejects.toThrow(/--watch-budget/)
  })
})

describe("EC2's refusals", () => {
  it('wrong keys: UnauthorizedError naming what to check, and nothing retried', async () => {
    process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret'
    const { client } = await open(backend, [`--endpoint=${ec2.url}`, '--region=eu-west-3', ...FAST])
    const error = await client.ls().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect((error as Error).message).toMatch(
      /^\[adapter-ec2\] Ls: .*\(SignatureDoesNotMatch\); check the credentials/,
    )
    expect(ec2.faults.count('DescribeInstances')).toBe(1)
  })

  it('credentials signed for another region are refused as EC2 does', async () => {
    process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
    const { client } = await open(backend, [`--endpoint=${ec2.url}`, '--region=us-east-1', ...FAST])
    await expect(client.ls()).rejects.toThrow(/AuthFailure/)
  })

  it('an endpoint nobody answers: UnavailableError within the retry budget, not a hang', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        server.close(() => resolve(port))
      })
    })
    process.env.AWS_ACCESS_KEY_ID = 'AKIAFAKE'
    process.env.AWS_SECRET_ACCESS_KEY = 'secret'
    const { client } = await open(backend, [
      `--endpoint=http://127.0.0.1:${port}`,
      '--region=eu-west-3',
      '--retries=2',
      '--retry-delay=0.01',
    ])
    const error = await client.ls().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect((error as Error).message).toMatch(/did not answer.*ECONNREFUSED.*is the endpoint right/)
  })

  it("a Spawn with an AMI id EC2 refuses is InvalidArgument with EC2's words", async () => {
    process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
    const { client } = await open(backend, [`--endpoint=${ec2.url}`, '--region=eu-west-3', ...FAST])
    await expect(client.spawn(['bad', '--image=ubuntu'])).rejects.toThrow(
      /^\[adapter-ec2\] Spawn bad: Invalid id: "ubuntu" .*\(InvalidAMIID\.Malformed\)/,
    )
    await expect(client.spawn(['bad'])).rejects.toThrow(/needs --image=AMI_ID/)
  })
})
