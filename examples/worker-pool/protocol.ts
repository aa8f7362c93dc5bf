/** What the pool and its workers agree on. */
import type { Sender } from '@libswarm/core'

/** A job and the channel its result goes back on. */
export interface Job {
  id: number
  text: string
  reply: Sender<Result>
}

export interface Result {
  id: number
  worker: string
  /** sha256 of the job's text, in hex. */
  digest: string
}

/**
 * What a worker sends to register itself: its name and ITS OWN channel. The pool keeps that Sender
 * and sends jobs down it; nothing else needs to know where the worker is.
 */
export interface Registration {
  name: string
  jobs: Sender<Job>
}
