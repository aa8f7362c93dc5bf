import type { Service } from '@libswarm/core'

/** How a test reaches the service: directly in memory, or across a real session. */
export interface Scenario {
  name: string
  connect(service: Service, signal: AbortSignal): Promise<Service>
}

export const scenarios: Scenario[] = [{ name: 'memory', connect: async (service) => service }]
