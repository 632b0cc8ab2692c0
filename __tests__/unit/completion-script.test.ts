/**
 * Shell completion (src/cli/completion-script.ts): the script is made from the program's own
 * definitions, and bash, given it, completes commands, subcommands, a command's own flags (never
 * another command's) and declared choices, as it would at a key press: COMP_WORDS and COMP_CWORD
 * set, the completion function called, COMPREPLY read.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from '@jest/globals'
import { main } from '../../src/cli.js'
import {
  bashCompletionScript,
  COMPLETION_FUNCTION,
  completionNodes,
  completionScript
} from '../../src/cli/completion-script.js'
import { commandPath } from '../../src/cli/program.js'
import { captureStderr } from '../helpers/stderr-capture.js'
import { cliProgram, runnableCommands } from '../../tools/docs/cli-reference.js'

const stderrLines = captureStderr()
const program = cliProgram()
const script = bashCompletionScript(program)

/** What bash offers for the last word of `words` (the command line up to the cursor). */
function complete(...words: string[]): string[] {
  const r = spawnSync(
    'bash',
    [
      '--norc',
      '--noprofile',
      '-c',
      `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); ${COMPLETION_FUNCTION}; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      'sitecycle',
      ...words
    ],
    { encoding: 'utf8' }
  )
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return r.stdout.split('\n').filter(Boolean)
}

describe('the completion script, from the definitions', () => {
  it('has one node per command, each with its own long flags', () => {
    const nodes = completionNodes(program)
    const deploy = nodes.find(n => n.path === 'deploy')!
    expect(deploy.flags).toEqual(expect.arrayContaining(['--stage', '--release', '--help']))
    expect(deploy.flags).not.toContain('--list')
    expect(deploy.flagChoices).toContainEqual(['--stage', ['prepare', 'switch', 'finish', 'undo']])
    expect(nodes.find(n => n.path === 'attempt')!.subcommands).toEqual(
      expect.arrayContaining(['start', 'promote', 'cancel', 'status', 'plan'])
    )
    expect(nodes.find(n => n.path === 'completion')!.argumentChoices).toEqual(['bash', 'zsh'])
    // every command that runs is completed
    for (const cmd of runnableCommands(program))
      expect(nodes.map(n => n.path)).toContain(commandPath(cmd))
  })

  it('zsh gets the bash script through bashcompinit', () => {
    const zsh = completionScript(program, 'zsh')
    expect(zsh).toContain('bashcompinit && bashcompinit')
    expect(zsh).toContain(`complete -o default -F ${COMPLETION_FUNCTION} sitecycle`)
  })

  it('is what `sitecycle completion bash` prints', async () => {
    const out: string[] = []
    expect(await main(['completion', 'bash'], s => out.push(s))).toBe(0)
    expect(out.join('\n') + '\n').toBe(script)
  })

  it('refuses a shell it has no script for (exit 2, one line naming the choices)', async () => {
    const out: string[] = []
    expect(await main(['completion', 'fish'], s => out.push(s))).toBe(2)
    expect(out).toEqual([])
    const err = stderrLines().join('')
    expect(err.split('\n').filter(Boolean)).toHaveLength(1)
    expect(err).toMatch(/^sitecycle: .*'fish'.*bash, zsh/)
  })
})

describe('bash, with the script sourced', () => {
  it('completes a command', () => {
    expect(complete('dep')).toEqual(['deploy'])
    expect(complete('s')).toEqual(['status', 'sites', 'snapshot', 'snapshots', 'sync'])
  })

  it("completes a command's own flag, never another command's", () => {
    expect(complete('deploy', '--sta')).toEqual(['--stage'])
    expect(complete('deploy', 'v1', '--sta')).toEqual(['--stage'])
    expect(complete('deploy', '--st')).toEqual(['--store', '--stage'])
    // --list is mirror's: not offered after deploy, offered after mirror
    expect(complete('deploy', '--li')).toEqual([])
    expect(complete('mirror', '--li')).toEqual(['--list'])
    expect(complete('deploy', '--')).toContain('--release')
    expect(complete('deploy', '--')).not.toContain('--list')
  })

  it('completes subcommands and their flags', () => {
    expect(complete('attempt', 'pro')).toEqual(['promote'])
    expect(complete('attempt', 'start', 'v2', '--he')).toEqual(['--help'])
  })

  it('completes declared choices', () => {
    expect(complete('deploy', 'v1', '--stage', 'sw')).toEqual(['switch'])
    expect(complete('completion', '')).toEqual(['bash', 'zsh'])
    expect(complete('help', 'rol')).toEqual(['rollback'])
  })

  it("skips a flag's value, and leaves the words after -- to the shell", () => {
    // the config file first, as sitecycle takes it; its value is no command
    expect(complete('-c', 'deploy', 'rollback', '--t')).toEqual(['--to'])
    expect(complete('-c', 'x.yml', 'deploy', '--sta')).toEqual(['--stage'])
    // a flag's value without choices: nothing from us (bash's default: file names)
    expect(complete('deploy', 'v1', '--release', '')).toEqual([])
    expect(complete('run', 'v1', '--', 'dep')).toEqual([])
  })
})
