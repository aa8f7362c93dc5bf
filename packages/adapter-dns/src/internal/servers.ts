import { getServers } from 'node:dns'
import { type DnsServer, parseServer } from './srv.ts'

/** The system's DNS servers (from /etc/resolv.conf), as addresses. */
export function dnsServers(): DnsServer[] {
  return getServers().map((server) => parseServer(server))
}
