import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { InvalidArgumentError, NotFoundError, UnauthorizedError } from '@libswarm/core'

/**
 * Finds `command` the way execvp does (a name with a `/` is a path; otherwise each PATH entry is
 * tried) so that a bad command is reported when the instance is created, with a message that says
 * what to do, rather than later as a bare ENOENT.
 */
export function resolveCommand(command: string, cwd: string = process.cwd(), env = process.env): string {
  if (command === '') throw new InvalidArgumentError('[adapter-exec] the command is empty')
  if (command.includes('\0')) throw new InvalidArgumentError('[adapter-exec] the command contains a NUL byte')
  if (command.includes('/')) {
    const path = isAbsolute(command) ? command : resolve(cwd, command)
    check(path, command)
    return path
  }
  const dirs = (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean)
  let denied: string | undefined
  for (const dir of dirs) {
    const path = join(isAbsolute(dir) ? dir : resolve(cwd, dir), command)
    try {
      check(path, command)
      return path
    } catch (error) {
      if (error instanceof UnauthorizedError) denied ??= path
    }
  }
  if (denied) check(denied, command)
  throw new NotFoundError(
    `[adapter-exec] command not found: ${JSON.stringify(command)} is not in PATH (${dirs.join(delimiter)}); install it or give its full path`,
  )
}

function check(path: string, command: string): void {
  let isFile: boolean
  try {
    isFile = statSync(path).isFile()
  } catch {
    throw new NotFoundError(
      `[adapter-exec] command not found: ${JSON.stringify(command)} (no such file ${path})`,
    )
  }
  if (!isFile)
    throw new UnauthorizedError(`[adapter-exec] cannot run ${JSON.stringify(command)}: ${path} is not a file`)
  try {
    accessSync(path, constants.X_OK)
  } catch {
    throw new UnauthorizedError(
      `[adapter-exec] cannot run ${JSON.stringify(command)}: permission denied (EACCES) on ${path}; make it executable (chmod +x)`,
    )
  }
}

/** Maps a `child_process.spawn` error to a libswarm error that says what to do. */
export function spawnError(command: string, error: NodeJS.ErrnoException): Error {
  switch (error.code) {
    case 'ENOENT':
      return new NotFoundError(
        `[adapter-exec] command not found: ${JSON.stringify(command)} (ENOENT); check the name, your PATH and the working directory`,
        { cause: error },
      )
    case 'EACCES':
    case 'EPERM':
      return new UnauthorizedError(
        `[adapter-exec] cannot run ${JSON.stringify(command)}: permission denied (${error.code}); make it executable (chmod +x)`,
        { cause: error },
      )
    case 'ENOEXEC':
      return new InvalidArgumentError(
        `[adapter-exec] cannot run ${JSON.stringify(command)}: not an executable format (ENOEXEC); scripts need a #! line`,
        { cause: error },
      )
    default:
      return new InvalidArgumentError(
        `[adapter-exec] cannot run ${JSON.stringify(command)}: ${error.message}`,
        {
          cause: error,
        },
      )
  }
}

/** Checks that `cwd` (when given) is an existing directory, so a bad one is not reported as ENOENT of the command. */
export function checkCwd(cwd: string | undefined): void {
  if (cwd === undefined) return
  let isDirectory = false
  try {
    isDirectory = statSync(cwd).isDirectory()
  } catch {
    // reported below
  }
  if (!isDirectory) {
    throw new InvalidArgumentError(
      `[adapter-exec] the working directory ${JSON.stringify(cwd)} does not exist or is not a directory`,
    )
  }
}
