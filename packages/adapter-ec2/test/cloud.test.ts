import { runCloudSuite } from '@libswarm/cloud/suite'
import { backend } from '../src/index.ts'
import { startFakeEc2 } from '../src/testing.ts'
import { isolateAws } from './env.ts'

// The behaviour every cloud adapter shares, against the fake EC2 with its injections. Credentials
// come from the fake's container-credentials endpoint (a standard link of the SDK's chain), so that
// when the fake expires them the adapter renews them the way it would on a real role.
isolateAws()
runCloudSuite({
  name: 'ec2',
  backend,
  spawnArgs: ['--image=ami-12345678', '--type=t3.micro'],
  type: 't3.micro',
  maxPageSize: 1000,
  start: async () => {
    const ec2 = await startFakeEc2()
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = ec2.credentialsUrl
    return {
      args: [`--endpoint=${ec2.url}`, '--region=us-east-1'],
      fleet: ec2.fleet,
      close: () => ec2.close(),
    }
  },
})
