/**
 * The run action's inputs (actions/run/action.yml): the shared site inputs, the installed release
 * to run in, and the command as an argv, parsed once and checked before any host is touched. The
 * command never reaches a shell: it is given as a JSON array of strings, or one argument a line.
 */
import { isValidVersion } from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { readSiteInputs } from './data-inputs.js'
import { DeployInput, parseConfigSecrets, type SiteActionSettings } from './inputs.js'

/** Inputs of the run action beyond the shared site inputs (inputs.ts SiteInput). */
export enum RunInput {
  /** The command: a JSON array of strings, or one argument a line. */
  Command = 'command',
  /** An installed PEP 440 version to run in; the live release when empty. */
  Release = 'release'
}

/** The run action's settings. */
export interface RunSettings extends SiteActionSettings {
  /** The program and its arguments, exactly as given (no shell, no splitting on spaces). */
  argv: string[]
  /** The installed release to run in; the live one when absent. */
  release?: string
}

type InputSource = Pick<ActionCore, 'getInput'>

const COMMAND_FORM =
  'expected a JSON array of strings such as ["python", "manage.py", "migrate"], ' +
  'or one argument a line (a YAML block: `command: |` then python, manage.py, migrate on lines of their own)'

/**
 * The `command` input as an argv, or the problem with it. A text starting with `[` is a JSON
 * array of strings; any other text is one argument a line, each line trimmed, blank lines left
 * out (an argument cannot start or end with spaces, or span lines, in that form: use JSON). No
 * other splitting and no shell: `a b` on one line is one argument.
 */
export function parseCommandInput(text: string): { argv: string[] } | { problem: string } {
  const trimmed = text.trim()
  const name = `input '${RunInput.Command}'`
  if (trimmed === '') return { problem: `${name} is empty; ${COMMAND_FORM}` }
  if (trimmed.startsWith('[')) {
    let data: unknown
    try {
      data = JSON.parse(trimmed)
    } catch (e) {
      return {
        problem: `${name} starts with [ but is not valid JSON (${(e as Error).message}); ${COMMAND_FORM}`
      }
    }
    if (!Array.isArray(data) || data.length === 0)
      return { problem: `${name} is an empty JSON array; ${COMMAND_FORM}` }
    const bad = data.findIndex(a => typeof a !== 'string')
    if (bad >= 0)
      return {
        problem: `${name} item ${bad} is ${JSON.stringify(data[bad])}, not a string; ${COMMAND_FORM}`
      }
    const args = data as string[]
    if (args[0] === '') return { problem: `${name} names an empty program; ${COMMAND_FORM}` }
    const nul = args.findIndex(a => a.includes('\0'))
    if (nul >= 0) return { problem: `${name} item ${nul} holds a NUL character; ${COMMAND_FORM}` }
    return { argv: args }
  }
  const argv = trimmed
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l !== '')
  if (argv.some(a => a.includes('\0')))
    return { problem: `${name} holds a NUL character; ${COMMAND_FORM}` }
  return { argv }
}

/** Read and check the run action's inputs. Throws one SitecycleError naming every bad input. */
export function readRunSettings(core: InputSource): RunSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const parsed = parseCommandInput(core.getInput(RunInput.Command))
  if ('problem' in parsed) problems.push(parsed.problem)
  const release = core.getInput(RunInput.Release).trim() || undefined
  if (release !== undefined && !isValidVersion(release))
    problems.push(
      `input '${RunInput.Release}' is '${release}'; expected an installed PEP 440 version such as 1.4.0, or empty for the live release`
    )
  const secrets = core.getInput(DeployInput.ConfigSecrets).trim()
  if (secrets !== '' && parseConfigSecrets(secrets) === undefined)
    problems.push(
      `input '${DeployInput.ConfigSecrets}' is not a JSON object of names to values (its value is not shown); ` +
        'expected such as {"DB_PASSWORD": "..."}, or ${{ toJSON(secrets) }} in a workflow'
    )
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'input')
  return {
    ...common,
    argv: 'argv' in parsed ? parsed.argv : [],
    ...(release !== undefined && { release })
  }
}
