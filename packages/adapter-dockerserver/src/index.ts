/**
 * @libswarm/adapter-dockerserver: serve the Docker Engine API in front of any libswarm service
 * (backend `dockerserver [URL]`). Each API call becomes verbs sent to the next stage of the pipeline:
 * `docker ps` is `Ls` then `Attach` + `Get` per child, `docker run` is `Spawn`, `Attach`, `Connect`,
 * `Watch` and `Start`, `docker logs` is `Attach NAME --logs|--follow`, `docker events` is `Watch`.
 * The real docker CLI (28.x, negotiating API 1.41) works against it.
 *
 * @example
 * import { Client, Server } from '@libswarm/core'
 * import { dockerServer } from '@libswarm/adapter-dockerserver'
 *
 * // A tiny backend: one child named "hello" that is always running.
 * const hello = new Server({ onGet: () => ({ Image: 'demo', State: 'running', Cmd: ['serve'] }) })
 * const backend = new Server({ onLs: () => ['hello'], onAttach: () => hello })
 * const server = await dockerServer({ url: 'tcp://127.0.0.1:4243', out: backend })
 * // Now: DOCKER_HOST=tcp://127.0.0.1:4243 docker ps
 * await server.close()
 *
 * @packageDocumentation
 */
import { type Backend, Client, InvalidArgumentError, Server, type Service } from '@libswarm/core'
import { DEFAULT_URL, type DockerApiOptions, type DockerApiServer, listenDockerApi } from './internal/http.ts'

export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_URL,
  type DockerApiOptions,
  type DockerApiServer,
  parseListenUrl,
} from './internal/http.ts'

/** Options of {@link dockerServer}: those of the HTTP server. */
export type DockerServerOptions = DockerApiOptions

/** A running dockerserver: the HTTP server, and the pipeline-stage service in front of `out`. */
export interface DockerServer extends DockerApiServer {
  /**
   * The stage's own service: `Get` describes it (`{ url }`), `Stop` stops serving, every other verb
   * goes on to `out` unchanged.
   */
  readonly service: Service
}

/** Starts serving the Docker Engine API at `options.url` (default `tcp://127.0.0.1:4243`) in front of `options.out`. */
export async function dockerServer(options: DockerServerOptions): Promise<DockerServer> {
  const http = await listenDockerApi(options)
  const service = new Server(
    {
      onGet: () => ({ url: http.url, api: 'docker', apiVersion: '1.41' }),
      // A bare Start/Stop is this stage's own; with args it names children of the next stage.
      onStart: (args) => (args.length === 0 ? undefined : new Client(options.out).start(args)),
      onStop: (args) => (args.length === 0 ? http.close() : new Client(options.out).stop(args)),
    },
    { fallback: options.out },
  )
  return {
    url: http.url,
    service,
    close: async () => {
      await http.close()
      await service.close()
    },
    [Symbol.asyncDispose]: () => http.close(),
  }
}

/** The `dockerserver [URL]` backend. */
export const backend: Backend = {
  name: 'dockerserver',
  summary: 'serve the Docker Engine API in front of the next stage (the docker CLI works against it)',
  usage: `dockerserver [URL]   (tcp://HOST:PORT or unix:///path; default ${DEFAULT_URL})`,
  capabilities: { verbs: ['Get', 'Start', 'Stop'] },
  async spawn(args, context) {
    if (args.length > 1) {
      throw new InvalidArgumentError(
        `[adapter-dockerserver] too many arguments ${JSON.stringify(args)}: usage: ${backend.usage}`,
      )
    }
    const server = await dockerServer({
      url: args[0] ?? DEFAULT_URL,
      out: context.out,
      signal: context.signal,
      log: (line) => context.log(line),
    })
    context.log(`serving the Docker API on ${server.url}`)
    return server.service
  },
}
