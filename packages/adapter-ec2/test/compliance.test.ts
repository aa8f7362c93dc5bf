import compliance from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { type FakeEc2, startFakeEc2 } from '../src/testing.ts'
import { FAST, isolateAws } from './env.ts'

isolateAws()
let ec2: FakeEc2
let n = 0
compliance({
  name: 'ec2',
  backend,
  before: async () => {
    ec2 = await startFakeEc2()
    process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
  },
  after: () => ec2.close(),
  args: () => [`--endpoint=${ec2.url}`, '--region=us-east-1', ...FAST],
  spawnArgs: () => [`vm-${++n}`, '--image=ami-12345678', '--type=t3.micro'],
  badSpawnArgs: ['--region=us-east-1', '--endpoint=ftp://nowhere'],
})
