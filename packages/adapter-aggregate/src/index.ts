/**
 * @libswarm/adapter-aggregate: one libswarm service in front of several (backend
 * `aggregate 'SPEC' 'SPEC' ...`). Members are spawned by spec through the pipeline's registry (it
 * imports no adapter). `Ls` merges their children as `MEMBER:NAME`; `Attach MEMBER:NAME` goes to the
 * owner (a bare NAME to the first member that has it); `Spawn` goes round robin, or to
 * `Spawn --on=MEMBER ...`; `Watch` merges their event streams (names prefixed, `member` added).
 *
 * @example
 * import { BackendRegistry, Client } from '@libswarm/core'
 * import { backend as aggregate } from '@libswarm/adapter-aggregate'
 * import { backend as simulator } from '@libswarm/adapter-simulator'
 *
 * const registry = new BackendRegistry([aggregate, simulator])
 * const both = new Client(await registry.spawn(['aggregate', 'east=simulator web', 'west=simulator db']))
 * console.log(await both.ls()) // ['east:web', 'west:db']
 *
 * @packageDocumentation
 */
import { type Backend, InvalidArgumentError, parseSpec } from '@libswarm/core'
import { aggregate, type Member, SEPARATOR } from './internal/aggregate.ts'

export { type AggregateOptions, aggregate, type Member, SEPARATOR } from './internal/aggregate.ts'

const USAGE =
  "aggregate [NAME=]SPEC [[NAME=]SPEC...]   (e.g. aggregate 'local=dockerclient unix:///var/run/docker.sock' 'sim=simulator')"

/** Splits `NAME=SPEC` (NAME optional: default, the spec's backend name, numbered when repeated). */
export function memberSpecs(args: readonly string[]): { name: string; spec: string }[] {
  if (args.length === 0)
    throw new InvalidArgumentError(`[adapter-aggregate] needs at least one member spec: usage: ${USAGE}`)
  const used = new Map<string, number>()
  return args.map((arg) => {
    const named = /^([A-Za-z0-9_.-]+)=(.*)$/s.exec(arg)
    const spec = (named ? named[2]! : arg).trim()
    if (spec === '')
      throw new InvalidArgumentError(
        `[adapter-aggregate] empty member spec in ${JSON.stringify(arg)}: usage: ${USAGE}`,
      )
    let name = named?.[1]
    if (!name) {
      const base = parseSpec(spec)[0] ?? 'member'
      const count = (used.get(base) ?? 0) + 1
      used.set(base, count)
      name = count === 1 ? base : `${base}-${count}`
    }
    if (name.includes(SEPARATOR))
      throw new InvalidArgumentError(
        `[adapter-aggregate] member name ${JSON.stringify(name)} must not contain "${SEPARATOR}"`,
      )
    return { name, spec }
  })
}

/** The `aggregate SPEC...` backend. */
export const backend: Backend = {
  name: 'aggregate',
  summary: 'one service in front of several: merged Ls and Watch, Attach routed, Spawn round robin',
  usage: USAGE,
  capabilities: {
    verbs: ['Ls', 'Attach', 'Spawn', 'Get', 'Watch', 'Start', 'Stop'],
    watch: true,
    spawn: true,
  },
  async spawn(args, context) {
    const specs = memberSpecs(args)
    const members: Member[] = []
    for (const { name, spec } of specs) {
      members.push({ name, spec, service: await context.spawn(spec) })
    }
    return aggregate(members, { signal: context.signal, log: (line) => context.log(line) })
  },
}
