/**
 * The actions' inputs: their names, and one reader per action that parses every input once into
 * a typed settings object. Bad values fail here, before any file is read or any host is touched,
 * with one error that names each bad input and the form it expects.
 */
import type { SiteConfig, SitecycleConfig } from '../config/model.js'
import { BUNDLED_SECRETS, parseConfigSecrets } from '../config/secrets-bundle.js'
import { isValidVersion } from '../releases/version.js'
import { DEFAULT_LOCK_WAIT_SECONDS } from '../sites/lock.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'

/** Inputs both actions have, under the same names. */
export enum SiteInput {
  Config = 'config',
  Site = 'site',
  Host = 'host',
  LockWait = 'lock-wait',
  SshKey = 'ssh-key',
  KnownHosts = 'known-hosts'
}

/** Inputs of the deploy action only (actions/deploy/action.yml). */
export enum DeployInput {
  Release = 'release',
  Version = 'version',
  DryRun = 'dry-run',
  AllowBad = 'allow-bad',
  ConfigSecrets = 'config-secrets',
  /** Read by deploy.ts itself (the GitHub deployment record), not by readDeploySettings. */
  GithubToken = 'github-token',
  RecordDeployment = 'record-deployment',
  /** Read by deploy.ts itself: the GitHub environment the deployment is recorded in. */
  Environment = 'environment'
}

/**
 * Inputs of the deploy-stage action only (actions/deploy-stage/action.yml, one stage of the
 * composite actions/deploy), besides the deploy action's.
 */
export enum DeployStageInput {
  Stage = 'stage',
  /** The command of the smoke-test stage, run with bash on the runner against the idle slot. */
  SmokeTest = 'smoke-test',
  /** The GitHub deployment prepare recorded (its `deployment-id` output), settled by a later stage. */
  DeploymentId = 'deployment-id'
}

/** The stages of actions/deploy, each one step of the composite, in order (undo on failure). */
export const ACTION_STAGES = ['prepare', 'smoke-test', 'switch', 'finish', 'undo'] as const
export type ActionStage = (typeof ACTION_STAGES)[number]

/** Inputs of the rollback action only (actions/rollback/action.yml). */
export enum RollbackInput {
  To = 'to',
  AllowBad = 'allow-bad'
}

/** The config file used when the `config` input is empty. */
export const DEFAULT_CONFIG_FILE = 'sitecycle.yml'

/** What both actions need to reach a site. */
export interface SiteActionSettings {
  /** Path of sitecycle.yml, relative to the working directory (the workspace) or absolute. */
  configFile: string
  /** Name of the site, a key of `sites:` in the config file. */
  site: string
  /** The host to work on, for a site on several hosts (`hosts:`): one of them, as written there. */
  host?: string
  /** Seconds to wait for another operation's lock on the site to be released (0: fail at once). */
  lockWait: number
  /** Private key content to log in over SSH with (overrides ssh.key_file); a secret. */
  sshKey?: string
  /** Pinned known-hosts lines (overrides the config's ssh.known_hosts file). */
  knownHosts?: string
}

/** The deploy action's settings. */
export interface DeploySettings extends SiteActionSettings {
  /** A release file, a release directory, or a directory of releases; the site's `releases` when absent. */
  release?: string
  /** The PEP 440 version to take from a directory of releases (the newest when absent). */
  version?: string
  /** Run every check that changes nothing (release, config with its secrets, read-only
   * preflight on the host), print the plan, change nothing. */
  dryRun: boolean
  /** Deploy the version even when a rollback marked it bad (warns; the mark goes once it succeeded). */
  allowBad: boolean
  /** Values for the config template's `{{ secret.NAME }}` placeholders, by name (secrets). */
  configSecrets?: Record<string, string>
}

/** The deploy-stage action's settings. */
export interface DeployStageSettings extends DeploySettings {
  stage: ActionStage
  /** The smoke test's command (a bash script); the stage prepare takes the inputs' as a sign one follows. */
  smokeTest?: string
  /** The GitHub deployment prepare recorded, for a later stage to settle. */
  deploymentId?: number
}

/** The rollback action's settings. */
export interface RollbackSettings extends SiteActionSettings {
  /** An installed PEP 440 version to go back to; the previous release when absent. */
  to?: string
  /** Go back to `to` even when it is marked bad (warns; the mark goes once it succeeded). */
  allowBad: boolean
}

type InputSource = Pick<ActionCore, 'getInput'>

/** Read and check the deploy action's inputs. Throws one SitecycleError naming every bad input. */
export function readDeploySettings(core: InputSource): DeploySettings {
  const problems: string[] = []
  const settings = readDeployInputs(core, problems)
  throwProblems(problems)
  return settings
}

/** Read and check the deploy-stage action's inputs. Throws one SitecycleError naming every bad input. */
export function readDeployStageSettings(core: InputSource): DeployStageSettings {
  const problems: string[] = []
  const settings = readDeployInputs(core, problems)
  const stage = core.getInput(DeployStageInput.Stage).trim()
  if (!(ACTION_STAGES as readonly string[]).includes(stage))
    problems.push(
      `input '${DeployStageInput.Stage}' is '${stage}'; expected one of ${ACTION_STAGES.join(', ')}`
    )
  const smokeTest = optional(core.getInput(DeployStageInput.SmokeTest))
  if (stage === 'smoke-test' && smokeTest === undefined)
    problems.push(
      `input '${DeployStageInput.SmokeTest}' is empty; expected the command to run against the idle slot, such as ./tests/smoke.sh`
    )
  const id = optional(core.getInput(DeployStageInput.DeploymentId))
  if (id !== undefined && !/^[0-9]{1,18}$/.test(id))
    problems.push(
      `input '${DeployStageInput.DeploymentId}' is '${id}'; expected the id of a GitHub deployment (the prepare step's output), or nothing`
    )
  throwProblems(problems)
  return {
    ...settings,
    stage: stage as ActionStage,
    ...(smokeTest !== undefined && { smokeTest }),
    ...(id !== undefined && { deploymentId: Number(id) })
  }
}

function readDeployInputs(core: InputSource, problems: string[]): DeploySettings {
  const common = readCommon(core, problems)
  const release = optional(core.getInput(DeployInput.Release))
  const version = readVersion(core, DeployInput.Version, problems)
  const dryRun = readBoolean(core, DeployInput.DryRun, problems)
  const allowBad = readBoolean(core, DeployInput.AllowBad, problems)
  const configSecrets = readConfigSecrets(core, problems)
  return {
    ...common,
    ...(release !== undefined && { release }),
    ...(version !== undefined && { version }),
    dryRun,
    allowBad,
    ...(configSecrets !== undefined && { configSecrets })
  }
}

/** Read and check the rollback action's inputs. Throws one SitecycleError naming every bad input. */
export function readRollbackSettings(core: InputSource): RollbackSettings {
  const problems: string[] = []
  const common = readCommon(core, problems)
  const to = readVersion(core, RollbackInput.To, problems)
  const allowBad = readBoolean(core, RollbackInput.AllowBad, problems)
  throwProblems(problems)
  return { ...common, ...(to !== undefined && { to }), allowBad }
}

/** The site the `site` input names; an error naming the input and the known sites otherwise. */
export function selectSite(config: SitecycleConfig, name: string): SiteConfig {
  const site = Object.hasOwn(config.sites, name) ? config.sites[name] : undefined
  if (!site) {
    throw new SitecycleError(
      `input '${SiteInput.Site}' is '${name}', which is not a site in ${config.file}; ` +
        `expected one of: ${Object.keys(config.sites).join(', ')}`,
      'input'
    )
  }
  return site
}

/** The inputs both actions share (their names are the same in both). */
function readCommon(core: InputSource, problems: string[]): SiteActionSettings {
  const configFile = optional(core.getInput(SiteInput.Config)) ?? DEFAULT_CONFIG_FILE
  const site = core.getInput(SiteInput.Site).trim()
  if (!site)
    problems.push(
      `input '${SiteInput.Site}' is empty; expected the name of a site in ${configFile}, such as v1`
    )
  const host = optional(core.getInput(SiteInput.Host))
  const lockWait = readLockWait(core, problems)
  const sshKey = readSshKey(core, problems)
  const knownHosts = readKnownHosts(core, problems)
  return {
    configFile,
    site,
    ...(host !== undefined && { host }),
    lockWait,
    ...(sshKey !== undefined && { sshKey }),
    ...(knownHosts !== undefined && { knownHosts })
  }
}

function readLockWait(core: InputSource, problems: string[]): number {
  const text = core.getInput(SiteInput.LockWait).trim()
  if (text === '') return DEFAULT_LOCK_WAIT_SECONDS
  const seconds = Number(text)
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(seconds)) {
    problems.push(
      `input '${SiteInput.LockWait}' is '${text}'; expected a whole number of seconds, 0 or more (such as 0 or 600)`
    )
    return 0
  }
  return seconds
}

function readVersion(core: InputSource, name: string, problems: string[]): string | undefined {
  const text = optional(core.getInput(name))
  if (text !== undefined && !isValidVersion(text)) {
    problems.push(
      `input '${name}' is '${text}'; expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1`
    )
    return undefined
  }
  return text
}

function readBoolean(core: InputSource, name: string, problems: string[]): boolean {
  const text = core.getInput(name).trim()
  if (text === '' || /^false$/i.test(text)) return false
  if (/^true$/i.test(text)) return true
  problems.push(`input '${name}' is '${text}'; expected true or false`)
  return false
}

export { BUNDLED_SECRETS, parseConfigSecrets }

function readConfigSecrets(
  core: InputSource,
  problems: string[]
): Record<string, string> | undefined {
  const text = optional(core.getInput(DeployInput.ConfigSecrets))
  if (text === undefined) return undefined
  const values = parseConfigSecrets(text)
  if (values === undefined) {
    problems.push(
      `input '${DeployInput.ConfigSecrets}' is not a JSON object of names to values (its value is not shown); ` +
        `expected such as {"DB_PASSWORD": "..."}, or \${{ toJSON(secrets) }} in a workflow, whose ${BUNDLED_SECRETS} (when given) is itself such an object`
    )
  }
  return values
}

/** A private key must look like one; the value itself is never shown. */
function readSshKey(core: InputSource, problems: string[]): string | undefined {
  const key = optional(core.getInput(SiteInput.SshKey))
  if (key !== undefined && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(key)) {
    problems.push(
      `input '${SiteInput.SshKey}' does not hold a private key (its value is not shown); expected the whole content of ` +
        'a private key file without a passphrase, from -----BEGIN OPENSSH PRIVATE KEY----- to -----END OPENSSH PRIVATE KEY-----'
    )
    return undefined
  }
  return key
}

/** Known-hosts lines: `[marker] hosts keytype base64-key [comment]`; never a private key. */
function readKnownHosts(core: InputSource, problems: string[]): string | undefined {
  const text = optional(core.getInput(SiteInput.KnownHosts))
  if (text === undefined) return undefined
  const expected =
    "expected known-hosts lines such as 'web1.example.org ssh-ed25519 AAAAC3Nza...', as printed by ssh-keyscan"
  if (/PRIVATE KEY/.test(text)) {
    problems.push(
      `input '${SiteInput.KnownHosts}' holds a private key (its value is not shown); ${expected}`
    )
    return undefined
  }
  const lines = text.split(/\r?\n/).map(l => l.trim())
  const entries = lines.filter(l => l !== '' && !l.startsWith('#'))
  const bad = lines.findIndex(l => l !== '' && !l.startsWith('#') && !isKnownHostsLine(l))
  if (entries.length === 0) {
    problems.push(`input '${SiteInput.KnownHosts}' has no host key line; ${expected}`)
    return undefined
  }
  if (bad >= 0) {
    const shown = lines[bad].length > 60 ? `${lines[bad].slice(0, 60)}...` : lines[bad]
    problems.push(
      `input '${SiteInput.KnownHosts}' line ${bad + 1} ('${shown}') is not a known-hosts line; ${expected}`
    )
    return undefined
  }
  return text
}

function isKnownHostsLine(line: string): boolean {
  const fields = line.split(/\s+/)
  const rest = fields[0].startsWith('@') ? fields.slice(1) : fields
  // Key types are ssh-*, ecdsa-* or sk-*; a key blob starts with its length prefix, AAAA in base64.
  return (
    rest.length >= 3 &&
    /^(ssh|ecdsa|sk)-[A-Za-z0-9@._-]+$/.test(rest[1]) &&
    /^AAAA[A-Za-z0-9+/]*={0,3}$/.test(rest[2])
  )
}

function optional(text: string): string | undefined {
  const t = text.trim()
  return t === '' ? undefined : t
}

function throwProblems(problems: string[]): void {
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'input')
}
