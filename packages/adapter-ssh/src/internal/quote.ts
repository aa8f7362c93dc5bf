/**
 * Quoting for the remote shell. SSH sends one command string that the remote user's login shell
 * parses, so every argument is single-quoted (a `'` inside becomes `'\''`): the shell then passes
 * each one through unchanged, whatever metacharacters it holds.
 */

/** Quotes one argument for a POSIX shell. */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new TypeError('an argument cannot contain a NUL byte')
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

/** The command line that runs `command` with `args` exactly, each quoted. */
export function commandLine(command: string, args: readonly string[] = []): string {
  return [command, ...args].map(quoteArg).join(' ')
}
