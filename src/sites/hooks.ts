/**
 * A site's `after_install` hooks, run in one installed release (its virtualenv, its rendered
 * app.ini) as the site's Apache user, never root: by a deploy in the new release, and by restore
 * and sync in the LIVE release, so the code users run migrates data that was just copied in (a
 * preview's code may be newer than the production data it receives).
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Command } from '../commands/command.js'
import type { Executor } from '../hosts/executor.js'
import type { Reporter } from '../util/reporter.js'
import { ENV_FILE, parseEnvFile } from '../config/app-env.js'
import { siteLayout } from './layout.js'
import { splitCommandLine } from './render-config.js'
import { siteUserSwitch } from './site-user.js'
import { changeTreeOwner, takeTreeBack } from '../commands/files.js'

/** Which release the hooks run in. */
export interface HookTarget {
  /** The release directory name under releases/ (its version). */
  version: string
  /** Strings hidden wherever a hook's command line or output is logged (rendered secrets). */
  redact?: string[]
}

/** The programs a hook line may name bare that are taken from the release's virtualenv. */
const VENV_PROGRAMS = ['python', 'python3', 'pip']

/**
 * Run the site's after_install hooks, in order, in release `target.version`, as `sitecycle run`
 * runs a command: as the site's Apache user (setpriv when sitecycle runs as root), cwd the
 * release, `python`/`pip` from its virtualenv, the release's environment (env.json), the config
 * variable naming its app.ini, HOME the release, and the SITECYCLE_* variables of
 * releaseEnvironment set. A host user that is neither root nor the site's user cannot switch: the
 * hooks run as that user, with a warning. The first failing hook throws (CommandError). Returns
 * how many ran.
 */
export async function runAfterInstallHooks(
  exec: Executor,
  config: SitecycleConfig,
  site: SiteConfig,
  target: HookTarget,
  reporter: Reporter
): Promise<number> {
  const dir = siteLayout(site.root).release(target.version)
  const hooks = site.hooks.afterInstall
  if (!hooks.length) return 0
  const prefix = await hookUser(exec, site, reporter)
  const env = await releaseEnvironment(exec, config, site, target.version, reporter)
  const redact = [...(target.redact ?? []), ...env.secrets]
  // Switching from root: the release is the site user's while its hooks run (collectstatic,
  // compilemessages write into it), and root's again after, so the application cannot change
  // its own code; links stay links (shared data is never touched), groups are kept.
  const lend = prefix.length > 0
  if (lend) await exec.run(changeTreeOwner(site.apache.user, dir))
  try {
    for (const [i, line] of hooks.entries()) {
      const argv = splitCommandLine(
        line,
        `${config.file}: sites.${site.name}.hooks.after_install[${i}]`
      )
      reporter.info(`   hook: ${line}`)
      await exec.run({
        ...inReleaseAs(dir, argv, env, prefix),
        ...((target.redact || redact.length > 0) && { redact })
      })
    }
  } finally {
    if (lend) await exec.run(takeTreeBack(site.apache.user, '0', dir))
  }
  return hooks.length
}

/**
 * The argv prefix the hooks run behind (siteUserSwitch); a host user that cannot switch runs
 * them itself, warned that files they make are not the application's.
 */
async function hookUser(exec: Executor, site: SiteConfig, reporter: Reporter): Promise<string[]> {
  const s = await siteUserSwitch(exec, site)
  if ('argv' in s) return s.argv
  const { user } = site.apache
  reporter.warn(
    `the hooks of site ${site.name} run as uid ${s.uid} on ${exec.name}, not as the site's user ${user} (only root can switch): run sitecycle as root or as ${user} for files they make to be the application's`
  )
  return []
}

/** A command in release `dir` (inRelease) behind `prefix`, the switch to the site's user. */
export function inReleaseAs(
  dir: string,
  argv: string[],
  env: ReleaseEnvironment,
  prefix: string[]
): Pick<Command, 'argv' | 'cwd' | 'env' | 'unsetEnv'> {
  const inside = inRelease(dir, argv, env)
  return { ...inside, argv: [...prefix, ...inside.argv] }
}

/** The environment a command runs with in an installed release, and the secrets in it. */
export interface ReleaseEnvironment {
  variables: Record<string, string>
  /** Values to hide wherever the command line or its output is logged (masked already). */
  secrets: string[]
}

/**
 * The environment of a command run in release `version` (hooks, `sitecycle run`), as its WSGI
 * script sees it: the release's environment (env.json, its secrets given to the reporter to
 * mask), `python`/`pip` of its virtualenv first on PATH, the config variable naming its app.ini,
 * HOME the release (the Apache user's own home, such as /var/www, is often not its to write, and
 * root's is not its at all), and SITECYCLE_SITE, SITECYCLE_ROOT, SITECYCLE_SHARED, SITECYCLE_VERSION,
 * SITECYCLE_RELEASE_DIR (the release directory, also the working directory: where a hook puts
 * files Apache serves, `static:`).
 */
export async function releaseEnvironment(
  exec: Executor,
  config: SitecycleConfig,
  site: SiteConfig,
  version: string,
  reporter: Reporter
): Promise<ReleaseEnvironment> {
  const dir = siteLayout(site.root).release(version)
  const configEnv = site.config?.env ?? 'SITECYCLE_CONFIG'
  const appEnv = parseEnvFile(await exec.readFile(`${dir}/${ENV_FILE}`))
  const secrets = Object.entries(appEnv?.variables ?? {})
    .filter(([name]) => appEnv!.secret.includes(name))
    .map(([, value]) => value)
  for (const s of secrets) reporter.addSecret(s)
  return {
    variables: {
      ...appEnv?.variables,
      PATH: `${dir}/bin:/usr/local/bin:/usr/bin:/bin`,
      HOME: dir,
      VIRTUAL_ENV: dir,
      [configEnv]: `${dir}/app.ini`,
      SITECYCLE_SITE: site.name,
      SITECYCLE_ROOT: site.root,
      SITECYCLE_SHARED: siteLayout(site.root).shared,
      SITECYCLE_VERSION: version,
      SITECYCLE_RELEASE_DIR: dir
    },
    secrets
  }
}

/** A command in release `dir`: cwd the release, a bare python/pip taken from its virtualenv. */
export function inRelease(
  dir: string,
  argv: string[],
  env: ReleaseEnvironment
): Pick<Command, 'argv' | 'cwd' | 'env' | 'unsetEnv'> {
  const [first, ...rest] = argv
  return {
    argv: [VENV_PROGRAMS.includes(first!) ? `${dir}/bin/${first}` : first!, ...rest],
    cwd: dir,
    env: env.variables,
    unsetEnv: ['PYTHONPATH', 'PYTHONHOME']
  }
}

/** `3 hooks`, `1 hook`. */
export function describeHookCount(n: number): string {
  return `${n} hook${n === 1 ? '' : 's'}`
}
