/**
 * The options several commands share, each added by one helper so that its spelling, value name,
 * parser and help line are the same wherever it appears; and the types of the parsed values.
 * A command adds only the helpers whose options it honours: commander refuses the others.
 */
import { Option, type Command } from 'commander'
import { isValidVersion, MAX_VERSION_LENGTH } from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'

/** `-c, --config FILE`. */
export interface ConfigOptions {
  config: string
}

/** The options of a command that reaches a site's host. */
export interface HostOptions extends ConfigOptions {
  host?: string
  sshKeyFile?: string
  knownHosts?: string
}

export interface JsonOption {
  json?: boolean
}

export interface LockWaitOption {
  lockWait?: number
}

export interface DryRunOption {
  dryRun?: boolean
}

export interface AllowBadOption {
  allowBad?: boolean
}

/** A number of seconds (or another plain number) given as `--name VALUE`. */
export function parseSeconds(name: string): (value: string) => number {
  return value => {
    const n = Number(value)
    if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n))
      throw new SitecycleError(
        `--${name} ${value}: expected a number of seconds, e.g. --${name} 60`,
        'usage'
      )
    return n
  }
}

/** A PEP 440 version given as `--name VERSION`, refused when too long or malformed. */
export function parseVersion(name: string): (value: string) => string {
  return s => {
    if (s.length > MAX_VERSION_LENGTH)
      throw new SitecycleError(
        `--${name} ${s.slice(0, 20)}... (${s.length} characters): a version has at most ${MAX_VERSION_LENGTH} characters`,
        'input'
      )
    if (!isValidVersion(s))
      throw new SitecycleError(
        `--${name} ${s}: invalid version; expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`,
        'input'
      )
    return s
  }
}

/** `-q, --quiet`: every command has it. */
export function quietOption(cmd: Command): Command {
  return cmd.option('-q, --quiet', 'only warnings and the result')
}

/** `-c, --config FILE`. */
export function configOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'the config file', 'sitecycle.yml')
}

/** `--ssh-key-file` and `--known-hosts`: for a command that may open SSH connections. */
export function sshOptions(cmd: Command): Command {
  return cmd
    .option(
      '--ssh-key-file <file>',
      'private key for SSH hosts (or set SITECYCLE_SSH_KEY to the key itself)'
    )
    .option('--known-hosts <file>', 'pinned known-hosts file for SSH hosts')
}

/** `--config`, `--host`, and the SSH options: for a command that works on a site's host. */
export function hostOptions(cmd: Command): Command {
  configOption(cmd).option(
    '--host <host>',
    'the host to work on, for a site on several hosts (see: sitecycle hosts SITE)'
  )
  return sshOptions(cmd)
}

export function jsonOption(cmd: Command, what = 'the result'): Command {
  return cmd.option('--json', `print ${what} as JSON on stdout`)
}

export function lockWaitOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      '--lock-wait <seconds>',
      'wait up to SECONDS for a lock held by another run (default 5; 0 fails at once)'
    ).argParser(parseSeconds('lock-wait'))
  )
}

export function dryRunOption(cmd: Command, what: string): Command {
  return cmd.option(
    '--dry-run',
    `run every check that changes nothing, print the plan and change nothing (${what})`
  )
}

export function allowBadOption(cmd: Command, what: string): Command {
  return cmd.option(
    '--allow-bad',
    `${what} a version a rollback marked bad; it warns, and the mark is removed only when the run succeeds`
  )
}

/** `--unattended`: alerts on failure (read by runCliWithAlerts before the command runs). */
export function unattendedOption(cmd: Command): Command {
  return cmd.option(
    '--unattended',
    'a run from cron: when it fails, alert as alerts: in the config says (mail, issue); a success closes the issue (also SITECYCLE_UNATTENDED=1)'
  )
}

/** The options of a command working on a site: host, SSH, quiet, unattended. */
export function siteCommandOptions(cmd: Command): Command {
  return unattendedOption(quietOption(hostOptions(cmd)))
}
