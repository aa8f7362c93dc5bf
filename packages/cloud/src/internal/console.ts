/**
 * Console output as lines, from reads that are either incremental (GCE's serial port with its
 * `next` offset) or snapshots of the latest output (EC2's GetConsoleOutput, which keeps the last
 * 64 KiB): a snapshot is diffed against the previous one so each line comes out once.
 */
import type { ConsoleChunk } from './types.ts'

/** How much of the previous snapshot's end is looked for in the next one. */
const ANCHOR = 512

/** Turns console reads into new complete lines. */
export class ConsoleLines {
  #previous = ''
  #partial = ''
  /** Where the next incremental read starts; undefined for snapshot providers (and the first read). */
  cursor: string | undefined

  /** The lines that `chunk` adds; a last line without its newline is held until the next read or {@link flush}. */
  push(chunk: ConsoleChunk): string[] {
    let added: string
    if (chunk.next !== undefined || this.cursor !== undefined) {
      added = chunk.text
      this.cursor = chunk.next
    } else {
      added = newText(this.#previous, chunk.text)
      this.#previous = chunk.text
    }
    const text = this.#partial + added.replace(/\r\n?/g, '\n')
    const lines = text.split('\n')
    this.#partial = lines.pop() ?? ''
    return lines
  }

  /** The held last line, if any. */
  flush(): string[] {
    const rest = this.#partial
    this.#partial = ''
    return rest === '' ? [] : [rest]
  }
}

/** What `next` adds after `previous` (both snapshots of a window that may have scrolled). */
export function newText(previous: string, next: string): string {
  if (previous === '') return next
  if (next.startsWith(previous)) return next.slice(previous.length)
  const anchor = previous.slice(-ANCHOR)
  const at = next.lastIndexOf(anchor)
  if (at >= 0) return next.slice(at + anchor.length)
  return next // no overlap: the window moved past everything seen; give it all
}
