import { describe, expect, it } from 'vitest'
import {
  AbortError,
  ChannelAbortedError,
  ChannelClosedError,
  isReceiver,
  isSender,
  pipe,
  TimeoutError,
} from '../src/index.ts'

const bounded = () => ({ signal: AbortSignal.timeout(2000) })

describe('pipe', () => {
  it('delivers values in order and ends after close', async () => {
    const [rx, tx] = pipe<number>()
    for (let i = 0; i < 10; i++) await tx.send(i)
    await tx.close()
    const got: number[] = []
    for await (const value of rx) got.push(value)
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await expect(rx.receive()).rejects.toBeInstanceOf(ChannelClosedError)
  })

  it('brands its ends', () => {
    const [rx, tx] = pipe()
    expect(isSender(tx)).toBe(true)
    expect(isReceiver(rx)).toBe(true)
    expect(isSender(rx)).toBe(false)
    expect(isReceiver({ receive() {} })).toBe(false)
  })

  it('makes send wait while the buffer is full, and resumes it on receive', async () => {
    const [rx, tx] = pipe<number>({ highWaterMark: 2 })
    await tx.send(1)
    await tx.send(2)
    let accepted = false
    const third = tx.send(3).then(() => {
      accepted = true
    })
    await new Promise((r) => setTimeout(r, 20))
    expect(accepted).toBe(false)
    expect(await rx.receive(bounded())).toBe(1)
    await third
    expect(accepted).toBe(true)
    expect(await rx.receive(bounded())).toBe(2)
    expect(await rx.receive(bounded())).toBe(3)
  })

  it('with highWaterMark 0 is a rendezvous', async () => {
    const [rx, tx] = pipe<string>({ highWaterMark: 0 })
    let accepted = false
    const sent = tx.send('x').then(() => {
      accepted = true
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(accepted).toBe(false)
    expect(await rx.receive(bounded())).toBe('x')
    await sent
    expect(accepted).toBe(true)
  })

  it('close keeps every message sent before it, including sends still waiting for room', async () => {
    const [rx, tx] = pipe<number>({ highWaterMark: 1 })
    await tx.send(1)
    const waiting = [tx.send(2), tx.send(3)]
    await tx.close()
    await expect(tx.send(4)).rejects.toBeInstanceOf(ChannelClosedError)
    const got: number[] = []
    for await (const value of rx) got.push(value)
    await Promise.all(waiting)
    expect(got).toEqual([1, 2, 3])
  })

  it('close wakes a receiver that is waiting', async () => {
    const [rx, tx] = pipe()
    const pending = rx.receive(bounded())
    await tx.close()
    await expect(pending).rejects.toBeInstanceOf(ChannelClosedError)
  })

  it('abort delivers the reason to a receiver that is already waiting', async () => {
    const [rx, tx] = pipe()
    const pending = rx.receive(bounded())
    tx.abort(new Error('disk on fire'))
    const error = await pending.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChannelAbortedError)
    expect((error as ChannelAbortedError).reason).toEqual(new Error('disk on fire'))
    expect((error as Error).message).toContain('disk on fire')
    expect((error as ChannelAbortedError).code).toBe('CHANNEL_ABORTED')
    await expect(rx.receive()).rejects.toBeInstanceOf(ChannelAbortedError)
    await expect(tx.send(1)).rejects.toBeInstanceOf(ChannelAbortedError)
  })

  it('abort makes iteration throw instead of ending quietly', async () => {
    const [rx, tx] = pipe<number>()
    await tx.send(1)
    tx.abort('stop')
    const iterate = async () => {
      for await (const _ of rx) {
        // nothing
      }
    }
    await expect(iterate()).rejects.toBeInstanceOf(ChannelAbortedError)
  })

  it('an aborted signal rejects a waiting receive and leaves the channel usable', async () => {
    const [rx, tx] = pipe<number>()
    const controller = new AbortController()
    const pending = rx.receive({ signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
    await tx.send(7)
    expect(await rx.receive(bounded())).toBe(7)
  })

  it('a timeout signal rejects with TimeoutError', async () => {
    const [rx] = pipe()
    await expect(rx.receive({ signal: AbortSignal.timeout(10) })).rejects.toBeInstanceOf(TimeoutError)
  })

  it('an aborted signal withdraws a waiting send without delivering it', async () => {
    const [rx, tx] = pipe<number>({ highWaterMark: 1 })
    await tx.send(1)
    const controller = new AbortController()
    const pending = tx.send(2, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
    await tx.close()
    const got: number[] = []
    for await (const value of rx) got.push(value)
    expect(got).toEqual([1])
  })

  it('leaving a for-await loop early releases a sender blocked on a full buffer', async () => {
    const [rx, tx] = pipe<number>({ highWaterMark: 1 })
    const producer = (async () => {
      let sent = 0
      try {
        for (;;) {
          await tx.send(sent)
          sent++
        }
      } catch (error) {
        return { sent, error }
      }
    })()
    for await (const value of rx) {
      if (value === 3) break
    }
    const { sent, error } = await Promise.race([
      producer,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('sender was not released')), 2000)),
    ])
    expect(error).toBeInstanceOf(ChannelClosedError)
    expect((error as Error).message).toMatch(/stopped reading/)
    expect(sent).toBeGreaterThanOrEqual(4)
  })

  it('rejects a negative highWaterMark', () => {
    expect(() => pipe({ highWaterMark: -1 })).toThrow(RangeError)
  })

  it('await using cancels the receiver', async () => {
    const [rx, tx] = pipe<number>()
    {
      await using _scoped = rx
    }
    await expect(tx.send(1)).rejects.toBeInstanceOf(ChannelClosedError)
  })
})
