/**
 * The fake EC2 of the clouds benchmark, in a process of its own (so that its memory does not count
 * as the client's): `ec2-fake.ts N` starts it with N running instances, prints its URL and the test
 * key pair as one JSON line, and exits when its stdin closes.
 */
import { startFakeEc2 } from '@libswarm/adapter-ec2/testing'

const count = Number(process.argv[2] ?? '1000')
const ec2 = await startFakeEc2()
ec2.fleet.populate(count, { image: 'ami-12345678', type: 't3.micro', namePrefix: 'vm-' })
process.stdout.write(`${JSON.stringify({ url: ec2.url, ...ec2.credentials })}\n`)
process.stdin.resume()
process.stdin.on('end', () => {
  void ec2.close().then(() => process.exit(0))
})
