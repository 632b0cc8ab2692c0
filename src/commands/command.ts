/**
 * A command is a value: an argv array and what to hide when it is logged.
 * Builders in src/commands return these and touch nothing; hosts run them.
 */
export interface Command {
  /** The program and its arguments; never joined into a shell line except by hosts/shell-quote. */
  argv: string[]
  /** Environment variables to set for this command only. */
  env?: Record<string, string>
  /** Environment variables to remove for this command (e.g. PIP_FIND_LINKS). */
  unsetEnv?: string[]
  /** Working directory on the host. */
  cwd?: string
  /** Substrings (secrets) replaced by *** wherever the command or its output is logged. */
  redact?: string[]
  /** Bytes sent to the command's standard input. */
  input?: string | Buffer
}

/** Build a command; a small convenience so builders read as one line. */
export function cmd(argv: string[], extra: Omit<Command, 'argv'> = {}): Command {
  return { argv, ...extra }
}

/** Replace every secret in `text` with ***. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const s of secrets) if (s) out = out.split(s).join('***')
  return out
}

/** The command as a human would read it in a log, secrets hidden. */
export function describeCommand(c: Command): string {
  const line = c.argv
    .map((a, i) =>
      // A host program given inline (`python -c <program>`) is named, not printed: its text
      // says nothing to the reader of an error, and would bury the error itself.
      c.argv[i - 1] === '-c' && a.includes('\n')
        ? `<${hostProgramName(a) ?? 'program'}>`
        : /^[\w@%+=:,./-]+$/.test(a)
          ? a
          : JSON.stringify(a)
    )
    .join(' ')
  return redact(line, c.redact)
}

/** A host program's name, `host/tree-sums.py`, from its opening comment (src/host/*.py). */
export function hostProgramName(program: string): string | undefined {
  return /^# (host\/[\w.-]+\.py)\b/.exec(program)?.[1]
}
