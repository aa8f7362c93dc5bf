/**
 * (8) Clouds: `Ls --long` over 10 000 EC2 instances through adapter-ec2 (requests made against the
 * fewest the page size allows, time, peak memory), beside the AWS SDK's own paginator over the same
 * fake (the direct client); and a `Watch` over 10 000 instances at the default interval and budget
 * (requests per minute), beside EC2's documented limit for DescribeInstances. The fake EC2 runs in a
 * child process (bench/ec2-fake.ts), so memory figures are the client's alone.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2'
import { backend } from '@libswarm/adapter-ec2'
import { Client, notImplemented } from '@libswarm/core'
import { peakMemory, quick, type Row } from '../lib/common.ts'

const INSTANCES = quick ? 1_000 : 10_000
const PAGE = 1000 // EC2's largest DescribeInstances page
/** EC2's request-rate limit for non-mutating actions such as DescribeInstances: refill 20 a second. */
const EC2_DESCRIBE_PER_MINUTE = 20 * 60
const MiB = 1024 * 1024

async function startFake(count: number) {
  const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'ec2-fake.ts')
  const child = spawn(
    process.execPath,
    [...process.execArgv.filter((a) => a !== '--expose-gc'), script, String(count)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  const fake = JSON.parse(line) as { url: string; accessKeyId: string; secretAccessKey: string }
  return {
    ...fake,
    stop: async () => {
      child.stdin!.end()
      await once(child, 'exit')
    },
  }
}

async function open(url: string, extra: string[] = []) {
  const controller = new AbortController()
  const service = await backend.spawn([`--endpoint=${url}`, '--region=us-east-1', ...extra], {
    out: notImplemented,
    signal: controller.signal,
    log: () => {},
    spawn: () => Promise.reject(new Error('unused')),
  })
  return { client: new Client(service, { timeout: 600_000 }), close: () => controller.abort() }
}

export async function run(): Promise<Row[]> {
  const fake = await startFake(INSTANCES)
  process.env.AWS_ACCESS_KEY_ID = fake.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = fake.secretAccessKey
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  const rows: Row[] = []
  try {
    // Ls --long through the adapter.
    const { client, close } = await open(fake.url)
    const t0 = performance.now()
    const ls = await peakMemory(() => client.call('Ls', ['--long']))
    const lsMs = performance.now() - t0
    if (ls.result.args.length !== INSTANCES)
      throw new Error(`Ls --long listed ${ls.result.args.length} of ${INSTANCES}`)
    const stats = (await client.get<{ requests: { requests: number } }>()).requests
    close()
    // The direct client: the SDK's paginator over the same fake.
    const sdk = new EC2Client({ region: 'us-east-1', endpoint: fake.url, maxAttempts: 1 })
    let sdkRequests = 0
    const t1 = performance.now()
    const direct = await peakMemory(async () => {
      let n = 0
      for await (const page of paginateDescribeInstances({ client: sdk, pageSize: PAGE }, {})) {
        sdkRequests++
        for (const r of page.Reservations ?? []) n += r.Instances?.length ?? 0
      }
      return n
    })
    const sdkMs = performance.now() - t1
    sdk.destroy()
    const minimum = Math.ceil(INSTANCES / PAGE)
    rows.push(
      {
        section: 'clouds',
        name: `ec2 Ls --long, ${INSTANCES} instances: requests`,
        value: stats.requests,
        unit: 'requests',
        baseline: `the fewest (${PAGE} a page)`,
        baselineValue: minimum,
        ratio: stats.requests / minimum,
        target: '<= 1',
        met: stats.requests <= minimum,
      },
      {
        section: 'clouds',
        name: `ec2 Ls --long, ${INSTANCES} instances: time`,
        value: lsMs,
        unit: 'ms',
        baseline: 'AWS SDK paginator, same fake',
        baselineValue: sdkMs,
        ratio: lsMs / sdkMs,
        note: `the SDK made ${sdkRequests} requests for ${direct.result} instances`,
      },
      {
        section: 'clouds',
        name: `ec2 Ls --long, ${INSTANCES} instances: peak memory`,
        value: ls.held / MiB,
        unit: 'MiB',
        baseline: 'AWS SDK paginator, same fake',
        baselineValue: direct.held / MiB,
        ratio: ls.held / Math.max(direct.held, 1),
        note: `RSS +${(ls.rss / MiB).toFixed(0)} MiB (SDK +${(direct.rss / MiB).toFixed(0)} MiB)`,
      },
    )

    // Watch at the default interval (10 s) and budget (60 requests a minute): a minute of it in a full
    // run; a quick run scales both by 1/50 over 1.2 s and reports the figure scaled back.
    const scale = quick ? 50 : 1
    const window = 60_000 / scale
    const watch = await open(fake.url, [`--watch-interval=${10 / scale}`, `--watch-budget=${60 * scale}`])
    const events = await watch.client.watch() // answers once the first listing (the baseline) is in
    const before = (await watch.client.get<{ requests: { watchRequests: number } }>()).requests.watchRequests
    await new Promise((resolve) => setTimeout(resolve, window))
    const after = (await watch.client.get<{ requests: { watchRequests: number } }>()).requests.watchRequests
    events.cancel()
    watch.close()
    const perMinute = ((after - before) * 60_000) / window / scale
    rows.push({
      section: 'clouds',
      name: `ec2 Watch, ${INSTANCES} instances, default interval: requests per minute`,
      value: perMinute,
      unit: 'req/min',
      baseline: "EC2's DescribeInstances limit (refill 20/s)",
      baselineValue: EC2_DESCRIBE_PER_MINUTE,
      ratio: perMinute / EC2_DESCRIBE_PER_MINUTE,
      target: '<= 60 (the budget)',
      met: perMinute <= 60,
      note: quick ? 'quick: interval and budget scaled 1/50, figure scaled back' : undefined,
    })
  } finally {
    await fake.stop()
  }
  return rows
}
