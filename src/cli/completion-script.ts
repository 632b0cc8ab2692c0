/**
 * Shell completion for `sitecycle`, generated from the commander program itself (commander has
 * none of its own): the commands and subcommands, each command's own long flags, the values of a
 * flag or argument declared with choices (`deploy --stage`, `completion <shell>`), and the value
 * of any other flag skipped when finding which command is being typed (`sitecycle -c FILE deploy`).
 * Anything else (a flag's value without choices, a site, the command after `--`) is left to the
 * shell's default, file names. Site names are not completed: listing them (`sitecycle sites`)
 * reaches every site's host, too slow for a key press. Pure: program in, script text out.
 */
import type { Command, Option } from 'commander'

/** The shells a script is printed for; zsh loads the bash script through its bashcompinit. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const
export type CompletionShell = (typeof COMPLETION_SHELLS)[number]

/** The name of the shell function the script defines. */
export const COMPLETION_FUNCTION = '_sitecycle_completion'

/** One command as completion sees it: where it is, what may follow it. */
export interface CompletionNode {
  /** Its command path (`''` for the program, `attempt start`). */
  path: string
  /** Its subcommands (with commander's `help` where it has one). */
  subcommands: string[]
  /** Its long flags, `--help` included. */
  flags: string[]
  /** Its flags (long and short) that take a value. */
  valueFlags: string[]
  /** The choices of each flag that has them. */
  flagChoices: [flag: string, choices: string[]][]
  /** The choices of its first argument that has them. */
  argumentChoices: string[]
}

/** A word in single quotes for bash (`'` as `'\''`). */
function sq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** An option's flags, long then short. */
function flagsOf(o: Option): string[] {
  return [o.long, o.short].filter((f): f is string => !!f)
}

function nodesOf(cmd: Command, path: string): CompletionNode[] {
  const help = cmd.createHelp()
  const commands = help.visibleCommands(cmd)
  const options: Option[] = help.visibleOptions(cmd)
  const takesValue = options.filter(o => o.required || o.optional)
  const node: CompletionNode = {
    path,
    subcommands: commands.map(c => c.name()),
    flags: options.flatMap(o => (o.long ? [o.long] : [])),
    valueFlags: takesValue.flatMap(flagsOf),
    flagChoices: takesValue.flatMap(o => {
      const choices = o.argChoices ?? []
      return choices.length ? flagsOf(o).map(f => [f, choices] as [string, string[]]) : []
    }),
    argumentChoices: cmd.registeredArguments.find(a => a.argChoices?.length)?.argChoices ?? []
  }
  const children = commands.flatMap(c => {
    const childPath = path ? `${path} ${c.name()}` : c.name()
    // commander's own `help [command]`: its word is one of its siblings
    if (c.name() === 'help' && !cmd.commands.includes(c))
      return [
        {
          path: childPath,
          subcommands: cmd.commands.map(s => s.name()),
          flags: [],
          valueFlags: [],
          flagChoices: [],
          argumentChoices: []
        }
      ]
    return nodesOf(c, childPath)
  })
  return [node, ...children]
}

/** Every command of the program, the program first, in help order. */
export function completionNodes(program: Command): CompletionNode[] {
  return nodesOf(program, '')
}

/** The words of `case` patterns: `'<path>|<word>'`. */
function key(path: string, word: string): string {
  return sq(`${path}|${word}`)
}

/** The bash completion script for `program` (its name is the command completed). */
export function bashCompletionScript(program: Command): string {
  const nodes = completionNodes(program)
  const name = program.name()
  // Before the command, a flag of any command may come (sitecycle -c FILE deploy): its value skipped.
  const anyValueFlag = [...new Set(nodes.flatMap(n => n.valueFlags))]
  const lines: string[] = [
    `# ${name} completion for bash, generated from the command definitions by \`${name} completion bash\`.`,
    `# Enable it: source <(${name} completion bash)`,
    `${COMPLETION_FUNCTION}() {`,
    `  local cur=\${COMP_WORDS[COMP_CWORD]} node='' word i skip=0 words=''`,
    `  COMPREPLY=()`,
    `  # which command is being typed: the words before the cursor that name one`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    word=\${COMP_WORDS[i]}`,
    `    if ((skip)); then skip=0; continue; fi`,
    `    # after --: the words of another command (run, idle), left to the shell`,
    `    if [[ $word == -- ]]; then return 0; fi`,
    `    case "$node|$word" in`
  ]
  for (const n of nodes)
    for (const sub of n.subcommands)
      lines.push(`      ${key(n.path, sub)}) node=${sq(n.path ? `${n.path} ${sub}` : sub)} ;;`)
  for (const n of nodes) {
    const flags = n.path === '' ? anyValueFlag : n.valueFlags
    if (flags.length) lines.push(`      ${flags.map(f => key(n.path, f)).join('|')}) skip=1 ;;`)
  }
  lines.push(
    `    esac`,
    `  done`,
    `  # the value of a flag with choices`,
    `  case "$node|\${COMP_WORDS[COMP_CWORD-1]}" in`
  )
  for (const n of nodes)
    for (const [flag, choices] of n.flagChoices)
      lines.push(
        `    ${key(n.path, flag)}) COMPREPLY=($(compgen -W ${sq(choices.join(' '))} -- "$cur")); return 0 ;;`
      )
  lines.push(
    `  esac`,
    `  # the value of another flag: the shell's default`,
    `  if ((skip)); then return 0; fi`,
    `  if [[ $cur == -* ]]; then`,
    `    case "$node" in`
  )
  for (const n of nodes)
    if (n.flags.length) lines.push(`      ${sq(n.path)}) words=${sq(n.flags.join(' '))} ;;`)
  lines.push(`    esac`, `  else`, `    case "$node" in`)
  for (const n of nodes) {
    const words = n.subcommands.length ? n.subcommands : n.argumentChoices
    if (words.length) lines.push(`      ${sq(n.path)}) words=${sq(words.join(' '))} ;;`)
  }
  lines.push(
    `    esac`,
    `  fi`,
    `  COMPREPLY=($(compgen -W "$words" -- "$cur"))`,
    `}`,
    `complete -o default -F ${COMPLETION_FUNCTION} ${name}`
  )
  return lines.join('\n') + '\n'
}

/**
 * The completion script for `shell`. zsh's: the bash script, loaded through zsh's bash completion
 * emulation (`bashcompinit`, after `compinit`).
 */
export function completionScript(program: Command, shell: CompletionShell): string {
  const bash = bashCompletionScript(program)
  if (shell === 'bash') return bash
  const name = program.name()
  return [
    `# ${name} completion for zsh: the bash completion through zsh's bashcompinit.`,
    `# Enable it: source <(${name} completion zsh)`,
    `(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }`,
    `autoload -U +X bashcompinit && bashcompinit`,
    bash.split('\n').slice(2).join('\n')
  ].join('\n')
}
