import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeWebReadable } from 'node:stream/web'
import {
  type Attachment,
  type ByteStream,
  InvalidArgumentError,
  isFileHandle,
  isNodeStream,
  isWebReadable,
} from '@libswarm/core'

/** The content of a `File` request (`att`) as a Node Readable; InvalidArgumentError when there is none. */
export function fileContent(att: ByteStream | Attachment | undefined): Readable {
  if (isWebReadable(att)) return Readable.fromWeb(att as NodeWebReadable<Uint8Array>)
  // An open file handed over in memory: read from its current position; the caller keeps it open.
  if (isFileHandle(att)) return (att as FileHandle).createReadStream({ autoClose: false })
  if (isNodeStream(att) && typeof (att as Readable).read === 'function') return att as Readable
  throw new InvalidArgumentError(
    '[adapter-ssh] File PATH needs its content in `att`: a readable byte stream or an open file (client.file(path, content))',
  )
}
