import { type Backend, InvalidArgumentError } from '@libswarm/core'
import type { Progress } from './progress.ts'

/** Creates the built-in `remote` backend: a remote swarmd (or any served service) as one stage. */
export function createRemoteBackend(_options: { progress: Progress }): { backend: Backend } {
  const backend: Backend = {
    name: 'remote',
    summary: 'a remote swarmd (started with --listen) as one stage: verbs go to its pipeline',
    usage: 'remote URL   (tcp://host:port, unix:///path, tls://, http2://, https://, ws://, wss://)',
    spawn(args) {
      if (args.length !== 1 || !URL.canParse(args[0]!)) {
        throw new InvalidArgumentError(`remote needs one URL, e.g. remote tcp://127.0.0.1:4242`)
      }
      throw new Error('remote needs the session layer (not landed yet)')
    },
  }
  return { backend }
}
