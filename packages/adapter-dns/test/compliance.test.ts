import compliance, { TEST_NAMES } from '@libswarm/adapter-compliance'
import { backend } from '../src/index.ts'
import { Dnsmasq, dnsmasqMissing } from './dnsmasq.ts'

const missing = dnsmasqMissing()
let dns: Dnsmasq | undefined
compliance({
  name: 'dns',
  backend,
  before: async () => {
    if (!missing) {
      dns = await Dnsmasq.start([
        { name: '_web._tcp.test', target: 'b.test', port: 80, priority: 0, weight: 5 },
        { name: '_web._tcp.test', target: 'a.test', port: 80, priority: 10, weight: 5 },
      ])
    }
  },
  after: () => dns?.stop(),
  args: () => ['_web._tcp.test', `127.0.0.1:${dns?.port ?? 1}`, '--min-ttl=0.2', '--max-ttl=1'],
  badSpawnArgs: ['--no-such-option'],
  skip: missing
    ? [{ reason: `needs a real dnsmasq: ${missing}`, tests: [...TEST_NAMES] }]
    : [
        {
          reason:
            'Ls lists SRV targets in the order to try them (priority, then weight), as issue 7 asks, not alphabetically',
          tests: ['Ls answers the names, sorted'],
        },
        {
          reason:
            'DNS is read-only here: no Spawn or Start can cause a change; Watch is tested by restarting dnsmasq with other records (dnsmasq.integration.test.ts)',
          tests: ['Watch reports the change'],
        },
      ],
})
