import {
  type Backend,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  Server,
  WatchHub,
} from '@libswarm/core'

const USAGE = '__NAME__ [NAME...]'

/** The `__NAME__` backend: a host of named things that start and stop. Replace the Map with the real system. */
export const backend: Backend = {
  name: '__NAME__',
  summary: 'TODO: one line that says what __NAME__ is',
  usage: USAGE,
  capabilities: {
    verbs: ['Attach', 'Get', 'Ls', 'Spawn', 'Watch'],
    spawn: true,
    startStop: true,
    watch: true,
  },
  spawn(args, context) {
    const things = new Map<string, Server>()
    const hub = new WatchHub()
    context.signal.addEventListener('abort', () => hub.close(), { once: true })
    const create = (name = '') => {
      if (!/^\w[\w.-]*$/.test(name)) {
        throw new InvalidArgumentError(`[adapter-__NAME__] bad name ${JSON.stringify(name)}; usage: ${USAGE}`)
      }
      if (things.has(name)) throw new ConflictError(`[adapter-__NAME__] "${name}" already exists`)
      const thing = { name, state: 'created', created: new Date().toISOString() }
      const change = (type: string, state: string) => {
        thing.state = state
        hub.publish({ type, name, state })
      }
      const child = new Server({
        onGet: () => thing,
        onStart: () => change('start', 'running'),
        onStop: () => change('stop', 'stopped'),
      })
      things.set(name, child)
      hub.publish({ type: 'create', name, state: thing.state })
      return child
    }
    for (const name of args) create(name)
    const self: Server = new Server(
      {
        onLs: () => things.keys(),
        onAttach: ([name = '']) => {
          const child = name === '' ? self : things.get(name)
          if (!child) throw new NotFoundError(`[adapter-__NAME__] nothing named "${name}"; Ls lists them`)
          return child
        },
        onSpawn: ([name]) => create(name),
        onGet: () => ({ things: [...things.keys()] }),
        onWatch: (_args, call) => hub.subscribe(call.signal),
      },
      { fallback: context.out },
    )
    return self
  },
}
