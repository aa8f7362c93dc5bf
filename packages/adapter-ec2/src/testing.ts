/**
 * @libswarm/adapter-ec2/testing: a fake EC2 endpoint for offline tests of anything that speaks EC2
 * (this adapter, the aws CLI, boto3, your own code). It follows the Query API (form POST, `Action`,
 * `Version=2016-11-15`, XML answers and errors, SigV4 with a test key pair, `NextToken` paging,
 * instance state codes) for RunInstances, DescribeInstances, Start/Stop/TerminateInstances,
 * Create/DeleteTags and GetConsoleOutput, and can throttle, slow state changes down, expire
 * credentials, answer pages of one and hide new instances for a while (`fake.faults`).
 *
 * @example
 * import { startFakeEc2 } from '@libswarm/adapter-ec2/testing'
 *
 * const ec2 = await startFakeEc2()
 * process.env.AWS_ACCESS_KEY_ID = ec2.credentials.accessKeyId
 * process.env.AWS_SECRET_ACCESS_KEY = ec2.credentials.secretAccessKey
 * // `ec2 --endpoint=${ec2.url} --region=us-east-1`, or aws --endpoint-url ${ec2.url} ec2 ...
 * ec2.faults.throttle(2) // the next two requests answer RequestLimitExceeded
 * await ec2.close()
 *
 * @packageDocumentation
 */
export type { FakeCredentials, FakeEc2Options, FakeExchange } from './internal/fake/server.ts'
export { FakeEc2, startFakeEc2 } from './internal/fake/server.ts'
export { EC2_VERSION, STATE_CODES } from './internal/fake/xml.ts'
