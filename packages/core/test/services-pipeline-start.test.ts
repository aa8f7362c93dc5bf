import {
  type Backend,
  BackendRegistry,
  Client,
  handler,
  isOwnRunState,
  type Message,
  pipeline,
  Server,
  type Service,
} from '@libswarm/core'
import { describe, expect, it } from 'vitest'

/** Every message each stage receives, as `verb args`, by stage name. */
type Received = Map<string, string[]>

/** Wraps a stage so that what reaches it is recorded under `name`. */
function recorded(name: string, received: Received, service: Service): Service {
  received.set(name, [])
  return handler(async (message: Message) => {
    received.get(name)!.push([message.verb, ...message.args].join(' '))
    await service.send(message)
  })
}

function backends(received: Received): Backend[] {
  return [
    // A stage that handles nothing itself: everything goes on to the next one (Server with fallback).
    {
      name: 'forward',
      summary: 'forwards everything',
      usage: 'forward NAME',
      spawn: ([name], context) => recorded(name!, received, new Server({}, { fallback: context.out })),
    },
    // A stage with its own run state that forwards the rest.
    {
      name: 'runner',
      summary: 'starts and stops, forwards the rest',
      usage: 'runner NAME',
      spawn: ([name], context) =>
        recorded(
          name!,
          received,
          new Server({ onStart: () => {}, onStop: () => {} }, { fallback: context.out }),
        ),
    },
    // The last stage: answers Start/Stop with or without args.
    {
      name: 'leaf',
      summary: 'the end',
      usage: 'leaf NAME',
      spawn: ([name]) => recorded(name!, received, new Server({ onStart: () => {}, onStop: () => {} })),
    },
  ]
}

describe('Start and Stop in a pipeline', () => {
  it('each stage receives exactly one Start and one Stop, whatever forwards what', async () => {
    const received: Received = new Map()
    const registry = new BackendRegistry()
    for (const backend of backends(received)) registry.register(backend)
    const chain = await pipeline(['forward a', 'runner b', 'forward c', 'leaf d'], {
      registry,
      timeout: 5000,
    })
    await chain.start()
    await chain.stop()
    for (const name of ['a', 'b', 'c', 'd']) expect(received.get(name), name).toEqual(['Start', 'Stop'])
    await chain.close()
  })

  it('a Start or Stop with args (naming a child) is still forwarded to the stage that has it', async () => {
    const received: Received = new Map()
    const registry = new BackendRegistry()
    for (const backend of backends(received)) registry.register(backend)
    const chain = await pipeline(['forward a', 'leaf b'], { registry, timeout: 5000 })
    const head = new Client(chain.head, { timeout: 5000 })
    await head.start(['web'])
    await head.stop(['web'])
    expect(received.get('a')).toEqual(['Start web', 'Stop web'])
    expect(received.get('b')).toEqual(['Start web', 'Stop web'])
    // A bare Start to a stage without onStart is its own, and not implemented there.
    await expect(head.start()).rejects.toMatchObject({ name: 'NotImplementedError' })
    expect(received.get('b')).toEqual(['Start web', 'Stop web'])
    await chain.close()
  })

  it('isOwnRunState tells a bare Start/Stop from one that names something', () => {
    expect(isOwnRunState({ verb: 'Start', args: [] })).toBe(true)
    expect(isOwnRunState({ verb: 'Stop', args: [] })).toBe(true)
    expect(isOwnRunState({ verb: 'Stop', args: ['web'] })).toBe(false)
    expect(isOwnRunState({ verb: 'Get', args: [] })).toBe(false)
  })
})
