import type { ServerHttp2Stream } from 'node:http2'

/** Answers a session request with an error status and a one-line explanation. */
export function refuse(
  stream: ServerHttp2Stream,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return
  stream.on('error', () => {})
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', ...headers })
  stream.end(`${message}\n`)
}
