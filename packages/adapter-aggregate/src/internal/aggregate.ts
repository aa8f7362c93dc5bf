/**
 * `aggregate`: one service in front of several members. Children are listed as `MEMBER:NAME`;
 * Attach routes to the owner; Spawn goes round robin (or `--on=MEMBER`); Watch merges the streams.
 */
import {
  type CallContext,
  Client,
  copy,
  InvalidArgumentError,
  isLibswarmError,
  type Message,
  NotFoundError,
  pipe,
  type Receiver,
  replyAck,
  replyAndClose,
  replyError,
  Server,
  type Service,
  type WatchEvent,
} from '@libswarm/core'

/** One member of an aggregate. */
export interface Member {
  /** Its name: the prefix of its children's names (`MEMBER:NAME`). */
  name: string
  /** The spec it was spawned from (for Get). */
  spec: string
  /** The member itself. */
  service: Service
}

/** Options of {@link aggregate}. */
export interface AggregateOptions {
  /** Fires when the aggregate must stop: merged watches end. */
  signal?: AbortSignal
  /** Logs a line (a member that failed to answer Ls or Watch). Default: ignored. */
  log?: (line: string) => void
  /** How long a call to a member may take to answer, in ms. Default: 30 000. */
  timeout?: number
}

const P = '[adapter-aggregate]'
/** Separates the member from the child in the names Ls lists. */
export const SEPARATOR = ':'

/** The aggregate service in front of `members` (at least one, names unique and without `:`). */
export function aggregate(members: Member[], options: AggregateOptions = {}): Service {
  if (members.length === 0) throw new InvalidArgumentError(`${P} needs at least one member`)
  const seen = new Set<string>()
  for (const member of members) {
    if (!member.name || member.name.includes(SEPARATOR)) {
      throw new InvalidArgumentError(
        `${P} member name ${JSON.stringify(member.name)} must be non-empty and without "${SEPARATOR}"`,
      )
    }
    if (seen.has(member.name))
      throw new InvalidArgumentError(
        `${P} two members are named ${JSON.stringify(member.name)}: name them with NAME=SPEC`,
      )
    seen.add(member.name)
  }
  const log = options.log ?? (() => {})
  const timeout = options.timeout ?? 30_000
  const clients = new Map(members.map((m) => [m.name, new Client(m.service, { timeout })]))
  const byName = new Map(members.map((m) => [m.name, m]))
  let next = 0

  /** `MEMBER:NAME` split, or undefined for a name without a known member prefix. */
  const split = (name: string): { member: Member; child: string } | undefined => {
    const at = name.indexOf(SEPARATOR)
    if (at <= 0) return undefined
    const member = byName.get(name.slice(0, at))
    return member ? { member, child: name.slice(at + 1) } : undefined
  }

  const attach = async (message: Message, context: CallContext): Promise<void> => {
    const [name, ...flags] = message.args
    if (!name)
      return replyError(
        message.ret,
        new InvalidArgumentError(`${P} Attach needs a name: MEMBER${SEPARATOR}NAME or NAME`),
      )
    const qualified = split(name)
    if (qualified) {
      // The owner answers the caller directly.
      await qualified.member.service.send(
        { ...message, args: [qualified.child, ...flags] },
        { signal: context.signal },
      )
      return
    }
    // A bare name (or id): the first member that has it.
    for (const member of members) {
      try {
        const { reply, rest } = await clients
          .get(member.name)!
          .open('Attach', [name, ...flags], { signal: context.signal })
        if (!message.ret) {
          rest.cancel()
          return
        }
        try {
          await message.ret.send(reply)
        } catch {
          rest.cancel()
          return
        }
        await copy(message.ret, rest, { signal: context.signal }).catch(() => rest.cancel())
        return
      } catch (error) {
        if (!isLibswarmError(error, 'NOT_FOUND')) return replyError(message.ret, error)
      }
    }
    return replyError(message.ret, new NotFoundError(`${P} no member has ${JSON.stringify(name)}`))
  }

  const spawn = async (message: Message, context: CallContext): Promise<void> => {
    let args = message.args
    let member: Member | undefined
    const on = args[0]?.startsWith('--on=')
      ? args[0].slice('--on='.length)
      : args[0] === '--on'
        ? args[1]
        : undefined
    if (on !== undefined) {
      member = byName.get(on)
      if (!member) {
        return replyError(
          message.ret,
          new InvalidArgumentError(
            `${P} Spawn --on=${on}: no such member (members: ${members.map((m) => m.name).join(', ')})`,
          ),
        )
      }
      args = args[0] === '--on' ? args.slice(2) : args.slice(1)
    } else {
      member = members[next++ % members.length]!
    }
    await member.service.send({ ...message, args }, { signal: context.signal })
  }

  return new Server({
    onLs: async (args, context) => {
      const long = args.length === 1 && args[0] === '--long'
      if (args.length > 0 && !long)
        throw new InvalidArgumentError(
          `${P} Ls takes no arguments but --long, got ${JSON.stringify(args)}; usage: Ls [--long]`,
        )
      const lists = await Promise.all(
        members.map(async (member) => {
          try {
            const client = clients.get(member.name)!
            if (long) {
              // Each member's own list (member by member, in their order), named MEMBER:NAME.
              const entries = await listLong(client, context.signal)
              return entries.map((entry) =>
                JSON.stringify({
                  ...entry,
                  name: `${member.name}${SEPARATOR}${entry.name}`,
                  member: member.name,
                }),
              )
            }
            const names = await client.ls({ signal: context.signal })
            return names.map((name) => `${member.name}${SEPARATOR}${name}`)
          } catch (error) {
            if (members.length === 1) throw error
            log(`${P} member ${member.name} did not answer Ls: ${(error as Error).message}`)
            return []
          }
        }),
      )
      return lists.flat()
    },
    onGet: async (args, context) => {
      if (args.length === 0) return { members: members.map((m) => ({ name: m.name, spec: m.spec })) }
      if (args.length > 1)
        throw new InvalidArgumentError(
          `${P} usage: Get [MEMBER${SEPARATOR}NAME | NAME]; got ${JSON.stringify(args)}`,
        )
      // Get NAME: that child's Get, from its owner (docs/VERBS.md rule 8), routed like Attach.
      const [name] = args as [string]
      const qualified = split(name)
      if (qualified)
        return clients.get(qualified.member.name)!.get([qualified.child], { signal: context.signal })
      for (const member of members) {
        try {
          return await clients.get(member.name)!.get([name], { signal: context.signal })
        } catch (error) {
          if (!isLibswarmError(error, 'NOT_FOUND')) throw error
        }
      }
      throw new NotFoundError(`${P} no member has ${JSON.stringify(name)}`)
    },
    onStart: async (_args, context) => {
      await forAll(members, (m) => clients.get(m.name)!.start([], { signal: context.signal }))
    },
    onStop: async (_args, context) => {
      await forAll(members, (m) => clients.get(m.name)!.stop([], { signal: context.signal }))
    },
    onWatch: async (args, context) => {
      const range = parseRange(args)
      const stop = options.signal ? AbortSignal.any([context.signal, options.signal]) : context.signal
      const [events, sink] = pipe<WatchEvent>({ highWaterMark: 64 })
      const watches = await Promise.all(
        members.map(async (member) => {
          try {
            return { member, events: await watchMember(clients.get(member.name)!, args, range, stop) }
          } catch (error) {
            if (!isLibswarmError(error, 'NOT_IMPLEMENTED'))
              log(`${P} member ${member.name} did not answer Watch: ${(error as Error).message}`)
            return undefined
          }
        }),
      )
      const live = watches.filter((w) => w !== undefined)
      if (live.length === 0) throw new InvalidArgumentError(`${P} no member answers Watch`)
      let open = live.length
      for (const { member, events: source } of live) {
        ;(async () => {
          try {
            for await (const event of source) {
              await sink.send({
                ...event,
                name: `${member.name}${SEPARATOR}${event.name}`,
                member: member.name,
              })
            }
          } catch {}
          if (--open === 0) await sink.close()
        })()
      }
      stop.addEventListener(
        'abort',
        () => {
          for (const { events: source } of live) source.cancel()
          events.cancel()
        },
        { once: true },
      )
      return events
    },
    catchAll: async (message, context) => {
      if (message.verb === 'Attach') return attach(message, context)
      if (message.verb === 'Spawn') return spawn(message, context)
      if (message.verb === 'Log' || message.verb === 'Error') {
        log(`${message.verb}: ${message.args.join(' ')}`)
        return replyAck(message.ret)
      }
      return replyAndClose(message.ret, {
        verb: 'Error',
        args: [`not implemented: ${message.verb}`, 'NOT_IMPLEMENTED'],
      })
    },
  })
}

async function forAll(members: Member[], run: (member: Member) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(members.map(run))
  const failed = results.find(
    (r): r is PromiseRejectedResult =>
      r.status === 'rejected' && !isLibswarmError(r.reason, 'NOT_IMPLEMENTED'),
  )
  if (failed) throw failed.reason
}

/** A child as `Ls --long` describes it: its name and what its Get says. */
export type LongEntry = { name: string } & Record<string, unknown>

/**
 * `Ls --long` on `client` (docs/VERBS.md, "Listing with descriptions"); for a member that does not
 * take `--long`, the same built from `Ls` and an `Attach` + `Get` per child.
 */
export async function listLong(client: Client, signal: AbortSignal): Promise<LongEntry[]> {
  try {
    const reply = await client.call('Ls', ['--long'], { signal })
    const entries = reply.verb === 'Set' ? parseLong(reply.args) : undefined
    if (entries) return entries
  } catch (error) {
    if (!isLibswarmError(error, 'INVALID_ARGUMENT') && !isLibswarmError(error, 'NOT_IMPLEMENTED')) throw error
  }
  const names = await client.ls({ signal })
  const described = await Promise.all(
    names.map(async (name): Promise<LongEntry | undefined> => {
      try {
        const { instance, output } = await client.attach(name, { signal })
        output.cancel()
        const description = await instance.get([], { signal })
        const fields =
          typeof description === 'object' && description !== null && !Array.isArray(description)
            ? (description as Record<string, unknown>)
            : { value: description }
        return { ...fields, name }
      } catch (error) {
        if (isLibswarmError(error, 'NOT_FOUND')) return undefined // gone between Ls and Attach
        throw error
      }
    }),
  )
  return described.filter((entry) => entry !== undefined)
}

/** The entries of an `Ls --long` answer, or undefined when it is not one (a plain list of names). */
function parseLong(args: readonly string[]): LongEntry[] | undefined {
  const entries: LongEntry[] = []
  for (const arg of args) {
    if (!arg.startsWith('{')) return undefined
    let entry: unknown
    try {
      entry = JSON.parse(arg)
    } catch {
      return undefined
    }
    if (typeof entry !== 'object' || entry === null || typeof (entry as LongEntry).name !== 'string')
      return undefined
    entries.push(entry as LongEntry)
  }
  return entries
}

/** `Watch [--since=TIME] [--until=TIME]` (docs/VERBS.md), times in ms since the epoch. */
interface Range {
  since?: number
  until?: number
}

function parseRange(args: readonly string[]): Range {
  const range: Range = {}
  for (const arg of args) {
    const match = /^--(since|until)=(.+)$/.exec(arg)
    const text = match?.[2] ?? ''
    const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text)
    if (!match || Number.isNaN(ms))
      throw new InvalidArgumentError(
        `${P} Watch: cannot use ${JSON.stringify(arg)}: expected Watch [--since=TIME] [--until=TIME] (Unix seconds or RFC 3339)`,
      )
    range[match[1] as 'since' | 'until'] = ms
  }
  return range
}

/**
 * A member's Watch with the flags; a member that refuses them (INVALID_ARGUMENT) is watched live,
 * its events before `since` dropped and its stream ended once `until` has passed.
 */
async function watchMember(
  client: Client,
  args: string[],
  range: Range,
  signal: AbortSignal,
): Promise<Receiver<WatchEvent>> {
  try {
    return await client.watch(args, { signal })
  } catch (error) {
    if (args.length === 0 || !isLibswarmError(error, 'INVALID_ARGUMENT')) throw error
  }
  const live = await client.watch([], { signal })
  const timer =
    range.until === undefined
      ? undefined
      : setTimeout(() => live.cancel(), Math.max(0, range.until - Date.now()))
  const [events, sink] = pipe<WatchEvent>({ highWaterMark: 64 })
  ;(async () => {
    try {
      for await (const event of live) {
        const at = typeof event.time === 'string' ? Date.parse(event.time) : Date.now()
        if (range.since !== undefined && at < range.since) continue
        if (range.until !== undefined && at > range.until) break
        await sink.send(event)
      }
    } catch {}
    if (timer) clearTimeout(timer)
    live.cancel()
    await sink.close().catch(() => {})
  })()
  signal.addEventListener('abort', () => events.cancel(), { once: true })
  return events
}
