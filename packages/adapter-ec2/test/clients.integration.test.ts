/**
 * Independent real clients against the fake EC2, so that it is not only consistent with this
 * adapter: the aws CLI (Debian's `/usr/bin/aws` first, else the one on PATH) and boto3 (Debian's
 * `/usr/bin/python3` first, else `python3`), with the adapter working on the same instances; and
 * swarmd, which lists the `ec2` backend and drives it from its `cli`. One file, one fake (about 30 s).
 * With `CI` set, a missing client is a failure.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { CloudInstance } from '@libswarm/cloud'
import { Client, ConflictError, notImplemented } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend } from '../src/index.ts'
import { type FakeEc2, startFakeEc2 } from '../src/testing.ts'
import { FAST, isolateAws } from './env.ts'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const swarmd = join(packageDir, '..', '..', 'apps', 'swarmd', 'bin', 'swarmd.js')

/** Runs a command with `input` on its stdin; resolves with its exit status and output. */
function runWithInput(
  command: string,
  args: string[],
  input: string,
  childEnv: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
    child.stdin.end(input)
  })
}

function works(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 60_000 }).status === 0
}
const aws = ['/usr/bin/aws', 'aws'].find((c) => works(c, ['--version']))
const python = ['/usr/bin/python3', 'python3'].find((c) => works(c, ['-c', 'import boto3']))
const missing = [
  aws ? undefined : 'the aws CLI (Debian: awscli)',
  python ? undefined : 'boto3 (Debian: python3-boto3)',
].filter((m): m is string => m !== undefined)
if (missing.length > 0 && process.env.CI)
  throw new Error(
    `[adapter-ec2] the client tests need ${missing.join(' and ')} in CI; add them to .ci/debian-packages/clouds.txt`,
  )

const home = isolateAws()
let ec2: FakeEc2
let env: NodeJS.ProcessEnv

/** Runs the aws CLI against the fake; resolves with its JSON output. */
async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const { stdout } = await run(aws!, ['--endpoint-url', ec2.url, '--output', 'json', 'ec2', ...args], {
    env: { ...env, ...extraEnv },
    timeout: 60_000,
  })
  return stdout.trim() === '' ? undefined : JSON.parse(stdout)
}

/** The aws CLI's failure text (stderr), or a failure of the test when it succeeds. */
async function cliFails(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await cli(args, { AWS_MAX_ATTEMPTS: '1', ...extraEnv }) // a refusal is not worth the CLI's retries
  } catch (error) {
    return (error as { stderr: string }).stderr
  }
  throw new Error(`aws ec2 ${args.join(' ')} succeeded`)
}

describe.skipIf(missing.length > 0)(
  `real clients against the fake EC2${missing.length > 0 ? ` (skipped: no ${missing.join(', ')})` : ''}`,
  () => {
    let client: Client
    const controller = new AbortController()
    const lines: string[] = []

    beforeAll(async () => {
      ec2 = await startFakeEc2()
      env = {
        PATH: process.env.PATH,
        HOME: home,
        AWS_ACCESS_KEY_ID: ec2.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ec2.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: join(home, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
        AWS_RETRY_MODE: 'standard',
        AWS_MAX_ATTEMPTS: '5',
      }
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      })
      const service = await backend.spawn([`--endpoint=${ec2.url}`, '--region=us-east-1', ...FAST], {
        out: notImplemented,
        signal: controller.signal,
        log: (line) => lines.push(line),
        spawn: () => Promise.reject(new Error('unused')),
      })
      client = new Client(service)
    })
    afterAll(async () => {
      controller.abort()
      await ec2?.close()
    })

    it('the aws CLI runs, pages, tags, stops and reads the console of instances the adapter sees', async () => {
      ec2.faults.transitionMs = 300
      const made = (await cli([
        'run-instances',
        '--image-id',
        'ami-12345678',
        '--instance-type',
        't3.micro',
        '--count',
        '2',
        '--client-token',
        'cli-token-1',
        '--tag-specifications',
        'ResourceType=instance,Tags=[{Key=Name,Value=cli-web},{Key=team,Value=ops}]',
      ])) as { Instances: { InstanceId: string; State: { Code: number; Name: string } }[] }
      expect(made.Instances).toHaveLength(2)
      expect(made.Instances[0]!.State).toEqual({ Code: 0, Name: 'pending' })
      const ids = made.Instances.map((i) => i.InstanceId)
      // Two instances share the name: Ls lists them by id, and Attach by that name is a conflict.
      const names = await client.ls()
      for (const id of ids) expect(names).toContain(id)
      await expect(client.attach('cli-web')).rejects.toBeInstanceOf(ConflictError)

      // The adapter's instance, through the CLI, with pages of one (the CLI follows every NextToken).
      await client.spawn(['lib-web', '--image=ami-12345678', '--type=t3.micro'])
      ec2.faults.pageSize = 1
      const before = ec2.faults.count('DescribeInstances')
      const listed = (await cli(['describe-instances', '--page-size', '5'])) as {
        Reservations: {
          Instances: {
            InstanceId: string
            State: { Code: number; Name: string }
            Tags?: { Key: string; Value: string }[]
          }[]
        }[]
      }
      const all = listed.Reservations.flatMap((r) => r.Instances)
      expect(all).toHaveLength(3)
      expect(ec2.faults.count('DescribeInstances') - before).toBeGreaterThanOrEqual(3)
      ec2.faults.pageSize = 0
      const lib = all.find((i) => i.Tags?.some((t) => t.Key === 'Name' && t.Value === 'lib-web'))!
      expect(lib.State).toEqual({ Code: 16, Name: 'running' })

      // Stop through the CLI, watched through the adapter.
      const events = await client.watch()
      try {
        const stopped = (await cli(['stop-instances', '--instance-ids', lib.InstanceId])) as {
          StoppingInstances: {
            CurrentState: { Code: number; Name: string }
            PreviousState: { Name: string }
          }[]
        }
        expect(stopped.StoppingInstances[0]).toMatchObject({
          CurrentState: { Code: 64, Name: 'stopping' },
          PreviousState: { Name: 'running' },
        })
        const signal = AbortSignal.timeout(15_000)
        for (;;) {
          const event = await events.receive({ signal })
          if (event.name === 'lib-web' && event.type === 'stop') break
        }
      } finally {
        events.cancel()
      }

      const consoleOut = (await cli(['get-console-output', '--instance-id', lib.InstanceId])) as {
        Output: string
      }
      expect(consoleOut.Output).toContain('Linux version')

      // Refusals, as EC2 words them.
      expect(await cliFails(['describe-instances'], { AWS_SECRET_ACCESS_KEY: 'wrong' })).toMatch(
        /SignatureDoesNotMatch/,
      )
      const session = ec2.issueSession()
      const sessionEnv = {
        AWS_ACCESS_KEY_ID: session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
        AWS_SESSION_TOKEN: session.sessionToken,
      }
      ec2.faults.expireCredentials()
      expect(await cliFails(['describe-instances'], sessionEnv)).toMatch(/RequestExpired/)

      await client.stop(['--rm', '--force', ...ids, lib.InstanceId])
      expect(await client.ls()).toEqual([])
    }, 300_000) // six aws CLI runs: each starts a Python interpreter (seconds on a loaded machine)

    it('boto3 runs, waits for, pages and tags instances', async () => {
      ec2.faults.reset()
      ec2.faults.transitionMs = 1500
      const script = `
import boto3, json, sys
ec2 = boto3.client('ec2', endpoint_url=sys.argv[1], region_name='us-east-1')
def run():
    return ec2.run_instances(ImageId='ami-12345678', MinCount=1, MaxCount=1, InstanceType='t3.micro', ClientToken='py-token',
        TagSpecifications=[{'ResourceType': 'instance', 'Tags': [{'Key': 'Name', 'Value': 'py-web'}]}])
made = run()
iid = made['Instances'][0]['InstanceId']
same = run()['Instances'][0]['InstanceId'] == iid
ec2.get_waiter('instance_running').wait(InstanceIds=[iid], WaiterConfig={'Delay': 1, 'MaxAttempts': 30})
pages = list(ec2.get_paginator('describe_instances').paginate(PaginationConfig={'PageSize': 5}))
ec2.create_tags(Resources=[iid], Tags=[{'Key': 'owner', 'Value': 'boto3'}])
ec2.delete_tags(Resources=[iid], Tags=[{'Key': 'Name'}])
state = ec2.describe_instances(InstanceIds=[iid])['Reservations'][0]['Instances'][0]['State']
try:
    ec2.start_instances(InstanceIds=['i-0123456789abcdef0'])
    error = None
except ec2.exceptions.ClientError as e:
    error = e.response['Error']['Code']
print(json.dumps({'id': iid, 'same': same, 'pages': len(pages), 'state': state, 'error': error}))
`
      ec2.fleet.populate(11, { image: 'ami-12345678', type: 't3.micro', namePrefix: 'bulk-' })
      ec2.faults.throttle(2) // the first two requests (RunInstances): botocore's own retries get through
      const { stdout } = await run(python!, ['-c', script, ec2.url], { env, timeout: 90_000 })
      const out = JSON.parse(stdout) as {
        id: string
        same: boolean
        pages: number
        state: { Code: number; Name: string }
        error: string
      }
      expect(ec2.faults.throttled).toBe(2)
      expect(out.same).toBe(true) // the same ClientToken answered the same instance
      expect(out.state).toEqual({ Code: 16, Name: 'running' })
      expect(out.pages).toBe(3) // 12 instances in pages of 5
      expect(out.error).toBe('InvalidInstanceID.NotFound')
      // What boto3 did, seen through the adapter: the tag it set, and the Name it removed (listed by id).
      const got = await client.get<CloudInstance>([out.id])
      expect(got).toMatchObject({ id: out.id, name: out.id, state: 'running', tags: { owner: 'boto3' } })
      expect(await client.ls()).toContain(out.id)
    }, 120_000)

    it('swarmd lists ec2 and drives it from its cli, showing the progress of a slow start', async () => {
      const config = join(home, 'swarmd.config.json')
      writeFileSync(config, JSON.stringify({ adapters: [packageDir] }))
      const listing = execFileSync(process.execPath, [swarmd, '--config', config], {
        encoding: 'utf8',
        env: process.env,
        timeout: 60_000,
      })
      expect(listing).toMatch(/^\s*ec2\b.*Amazon EC2/m)
      expect(existsSync(swarmd)).toBe(true)
      ec2.faults.transitionMs = 800
      const spec = `ec2 --endpoint=${ec2.url} --region=us-east-1 --wait-interval=0.1`
      // The cli reads its commands from stdin, one a line; swarmd stops at the end of input.
      // Asynchronously: the fake answers from this process.
      const child = await runWithInput(
        process.execPath,
        [swarmd, '--config', config, 'cli', spec],
        'spawn sw-web --image=ami-12345678 --type=t3.micro\nls\nget sw-web\n',
        { ...env, PATH: process.env.PATH },
      )
      expect(child.status, child.stderr).toBe(0)
      expect(child.stdout).toContain('sw-web')
      expect(child.stdout).toMatch(/"state": "running"/)
      expect(child.stderr).toMatch(/sw-web \(i-[0-9a-f]+\): pending, waiting for running/)
      expect(child.stderr).toMatch(/sw-web \(i-[0-9a-f]+\): running \(running\) after [\d.]+ s/)
    }, 120_000)
  },
)
