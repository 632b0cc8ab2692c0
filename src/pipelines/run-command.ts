/**
 * `sitecycle run <site> [--release V] -- <command...>`: a one-off command (create the schema once,
 * create an admin user, a data fix) in the live release, or an installed release named by
 * version, as the site would run it: the site's Apache user (never root), the release's
 * virtualenv, its environment (env.json, app.ini, SITECYCLE_*), cwd the release. Its output is
 * passed through as it comes and its exit code is the outcome's. It holds the site lock while it
 * runs (no deploy prunes its release under it) and is journalled as `run` (the command line with
 * secrets hidden, the release, the exit code).
 */
import type { Writable } from 'node:stream'
import { describeCommand, redact } from '../commands/command.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { findInstalled } from '../sites/bad-mark.js'
import { inReleaseAs, releaseEnvironment, type ReleaseEnvironment } from '../sites/hooks.js'
import { siteLayout } from '../sites/layout.js'
import { asSiteUser } from '../sites/site-user.js'
import { listReleases, readSiteState, requireInitialized } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation } from './operation.js'

export interface RunCommandRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** The command: a program and its arguments (no shell). */
  argv: string[]
  /** The installed release to run in (default: the live one). */
  release?: string
  lockWait?: number
  /** Where the command's output goes as it comes. */
  stdout: Writable
  stderr: Writable
}

export interface RunCommandOutcome {
  status: 'ran'
  site: string
  release: string
  /** The command's exit code. */
  code: number
  journal: Record<string, unknown>
}

export async function runInRelease(req: RunCommandRequest): Promise<RunCommandOutcome> {
  if (!req.argv.length)
    throw new SitecycleError('run: which command? e.g. sitecycle run v1 -- python -V', 'usage')
  const { exec, site, reporter } = req
  let version = ''
  let env: ReleaseEnvironment | undefined
  let prefix: string[] = []
  return withSiteOperation(
    { op: 'run', config: req.config, site, exec, reporter, lockWait: req.lockWait },
    async ctx => {
      const state = await readSiteState(exec, site, ctx.python)
      requireInitialized(state, site, exec)
      if (req.release === undefined) {
        if (!state.live)
          throw new SitecycleError(
            `site ${site.name} on ${exec.name} has no live release to run in: deploy one first, or name one with --release`,
            'input'
          )
        version = state.live
      } else {
        const installed = (await listReleases(exec, site, ctx.python)).filter(r => r.complete)
        const found = findInstalled(installed, req.release)
        if (!found)
          throw new SitecycleError(
            `version ${req.release} is not installed on site ${site.name}; installed: ${installed.map(r => r.dir).join(', ') || 'none'}`,
            'input'
          )
        version = found.dir
      }
      // Refusals (no such user, no way to become it) come before the journal's start line.
      prefix = await asSiteUser(exec, site)
      env = await releaseEnvironment(exec, req.config, site, version, reporter)
      // The command line as the journal keeps it: the release's secrets hidden.
      const line = redact(describeCommand({ argv: req.argv }), env.secrets)
      return { release: version, command: line, as: site.apache.user }
    },
    async () => {
      const dir = siteLayout(site.root).release(version)
      const command = {
        ...inReleaseAs(dir, req.argv, env!, prefix),
        ...(env!.secrets.length > 0 && { redact: env!.secrets })
      }
      reporter.info(
        `running in ${site.name} ${version} as ${site.apache.user}: ${redact(describeCommand({ argv: req.argv }), env!.secrets)}`
      )
      const r = await exec.tryRun(command, { stdout: req.stdout, stderr: req.stderr })
      return {
        status: 'ran',
        site: site.name,
        release: version,
        code: r.code,
        journal: { release: version, code: r.code }
      }
    }
  )
}
