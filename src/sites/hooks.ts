/**
 * A site's `after_install` hooks, run in one installed release (its virtualenv, its rendered
 * app.ini): by a deploy in the new release, and by restore and sync in the LIVE release, so the
 * code users run migrates data that was just copied in (a preview's code may be newer than the
 * production data it receives).
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import type { Reporter } from '../util/reporter.js'
import { ENV_FILE, parseEnvFile } from '../config/app-env.js'
import { siteLayout } from './layout.js'
import { splitCommandLine } from './render-config.js'

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
 * Run the site's after_install hooks, in order, in release `target.version`: cwd the release,
 * `python`/`pip` from its virtualenv, the release's environment (env.json), the config variable
 * naming its app.ini, and
 * SITECYCLE_SITE, SITECYCLE_ROOT, SITECYCLE_VERSION set. The first failing hook throws
 * (CommandError). Returns how many ran.
 */
export async function runAfterInstallHooks(
  exec: Executor,
  config: SitecycleConfig,
  site: SiteConfig,
  target: HookTarget,
  reporter: Reporter
): Promise<number> {
  const dir = siteLayout(site.root).release(target.version)
  const configEnv = site.config?.env ?? 'SITECYCLE_CONFIG'
  const hooks = site.hooks.afterInstall
  // The release's own environment, as its WSGI script loads it; its secrets are masked.
  const appEnv = hooks.length ? parseEnvFile(await exec.readFile(`${dir}/${ENV_FILE}`)) : undefined
  const secrets = Object.entries(appEnv?.variables ?? {})
    .filter(([name]) => appEnv!.secret.includes(name))
    .map(([, value]) => value)
  for (const s of secrets) reporter.addSecret(s)
  const redact = [...(target.redact ?? []), ...secrets]
  for (const [i, line] of hooks.entries()) {
    const argv = splitCommandLine(
      line,
      `${config.file}: sites.${site.name}.hooks.after_install[${i}]`
    )
    if (VENV_PROGRAMS.includes(argv[0])) argv[0] = `${dir}/bin/${argv[0]}`
    reporter.info(`   hook: ${line}`)
    await exec.run({
      argv,
      cwd: dir,
      env: {
        ...appEnv?.variables,
        PATH: `${dir}/bin:/usr/local/bin:/usr/bin:/bin`,
        VIRTUAL_ENV: dir,
        [configEnv]: `${dir}/app.ini`,
        SITECYCLE_SITE: site.name,
        SITECYCLE_ROOT: site.root,
        SITECYCLE_VERSION: target.version
      },
      unsetEnv: ['PYTHONPATH', 'PYTHONHOME'],
      ...((target.redact || redact.length > 0) && { redact })
    })
  }
  return hooks.length
}

/** `3 hooks`, `1 hook`. */
export function describeHookCount(n: number): string {
  return `${n} hook${n === 1 ? '' : 's'}`
}
