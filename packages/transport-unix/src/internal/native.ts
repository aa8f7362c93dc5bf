import { createRequire } from 'node:module'

/** The fd-passing addon built from native/fdpass.c at install time. */
export interface FdPassAddon {
  open(fd: number, callback: (event: number, a?: unknown, b?: unknown) => void): object
  setPoll(handle: object, readable: boolean, writable: boolean): void
  send(handle: object, chunks: Uint8Array[], fds: number[] | undefined): number
  shutdown(handle: object): number
  close(handle: object): void
  peerCredentials(handle: object): { pid: number; uid: number; gid: number } | undefined
  connect(path: string): number
  dup(fd: number): number
  closeFd(fd: number): number
}

/** Events the addon reports. */
export const Event = { Data: 1, End: 2, Error: 3, Writable: 4 } as const

let loaded: { addon?: FdPassAddon; error?: unknown } | undefined

/** The addon, or undefined (with the reason in {@link addonLoadError}) if it was not built. */
export function loadAddon(): FdPassAddon | undefined {
  if (!loaded) {
    try {
      const require = createRequire(import.meta.url)
      // src/internal/ and dist/internal/ are both two levels below the package root.
      loaded = { addon: require('../../build/Release/fdpass.node') as FdPassAddon }
    } catch (error) {
      loaded = { error }
    }
  }
  return loaded.addon
}

/** Why the addon could not be loaded, if it could not. */
export function addonLoadError(): unknown {
  loadAddon()
  return loaded?.error
}
