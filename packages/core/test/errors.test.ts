/**
 * `instanceof` on libswarm errors across copies of @libswarm/core. An app (swarmd) and a plugin
 * released at different times can each bring their own copy; an error thrown by one copy's class must
 * still be recognized by the other's (swarmd picks exit codes with `instanceof InvalidArgumentError`,
 * the Client and the codecs check `LibswarmError`). The second copy here is the same source loaded
 * again as a separate module instance (distinct classes), which is what a second install amounts to.
 */
import { describe, expect, it } from 'vitest'
import * as first from '../src/errors.ts'

// A query string makes the module loader evaluate the file again: new classes, as from another install.
const SECOND_COPY: string = '../src/errors.ts?second-copy'
const second = (await import(/* @vite-ignore */ SECOND_COPY)) as typeof first

describe('libswarm errors across two copies of @libswarm/core', () => {
  it('really loads two copies (distinct classes)', () => {
    expect(second.NotFoundError).not.toBe(first.NotFoundError)
    expect(second.LibswarmError).not.toBe(first.LibswarmError)
    expect(Object.getPrototypeOf(new second.NotFoundError())).not.toBe(first.NotFoundError.prototype)
  })

  it('recognizes an error from either copy with the other copy’s class', () => {
    for (const [thrower, checker] of [
      [first, second],
      [second, first],
    ] as const) {
      const error: unknown = new thrower.NotFoundError('[test] nothing named "x"')
      expect(error instanceof checker.NotFoundError).toBe(true)
      expect(error instanceof checker.LibswarmError).toBe(true)
      expect(error instanceof Error).toBe(true)
      expect(error instanceof checker.ConflictError).toBe(false)
      expect(error instanceof checker.InvalidArgumentError).toBe(false)
      expect(checker.isLibswarmError(error)).toBe(true)
      expect(checker.isLibswarmError(error, 'NOT_FOUND')).toBe(true)
      expect(checker.isLibswarmError(error, 'CONFLICT')).toBe(false)
    }
  })

  it('matches every error class by its code across copies', () => {
    const classes = Object.values(first).filter(
      (value): value is typeof first.NotFoundError =>
        typeof value === 'function' && typeof (value as { code?: unknown }).code === 'string',
    )
    expect(classes.length).toBeGreaterThanOrEqual(15)
    for (const cls of classes) {
      const other = (second as unknown as Record<string, typeof first.NotFoundError>)[cls.name]!
      // LimitExceededError and ChannelAbortedError take other first arguments; any string will do.
      const error = new other('x')
      expect(error instanceof cls, cls.name).toBe(true)
      for (const unrelated of classes) {
        if (unrelated !== cls)
          expect(error instanceof unrelated, `${cls.name} as ${unrelated.name}`).toBe(false)
      }
    }
  })

  it('narrows the type and keeps the fields of the other copy’s error', () => {
    const error: unknown = new second.LimitExceededError('maxMessageSize', undefined, { retryable: true })
    if (!(error instanceof first.LimitExceededError)) throw new Error('not recognized')
    expect(error.limit).toBe('maxMessageSize')
    expect(error.code).toBe('LIMIT_EXCEEDED')
    expect(error.retryable).toBe(true)
    expect(error.name).toBe('LimitExceededError')
  })

  it('returns the other copy’s error unchanged from abortErrorFrom', () => {
    const reason = new second.TimeoutError('[test] too slow')
    expect(first.abortErrorFrom(AbortSignal.abort(reason))).toBe(reason)
  })

  it('does not accept look-alikes: a plain Error named and coded like one, or an unbranded object', () => {
    const plain = Object.assign(new Error('nothing named "x"'), { name: 'NotFoundError', code: 'NOT_FOUND' })
    const object = { name: 'NotFoundError', code: 'NOT_FOUND', message: 'x', retryable: false }
    for (const copy of [first, second]) {
      for (const value of [plain, object, null, undefined, 'NOT_FOUND', 42]) {
        expect(value instanceof copy.NotFoundError).toBe(false)
        expect(value instanceof copy.LibswarmError).toBe(false)
        expect(copy.isLibswarmError(value)).toBe(false)
      }
    }
  })

  it('keeps the ordinary rule for subclasses without their own code', () => {
    class AppNotFound extends first.NotFoundError {}
    expect(new AppNotFound() instanceof first.NotFoundError).toBe(true)
    expect(new AppNotFound() instanceof second.NotFoundError).toBe(true)
    expect(new AppNotFound() instanceof AppNotFound).toBe(true)
    // A NotFoundError (either copy) is not an AppNotFound: the subclass adds nothing to match on.
    expect(new first.NotFoundError() instanceof AppNotFound).toBe(false)
    expect(new second.NotFoundError() instanceof AppNotFound).toBe(false)
  })

  it('adds no enumerable field: errors print and serialize as before', () => {
    const error = new first.ConflictError('[test] already exists')
    expect(Object.keys(error).sort()).toEqual(['code', 'name', 'retryable'])
    expect(Object.getOwnPropertySymbols(error)).toEqual([])
  })
})
