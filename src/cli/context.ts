/**
 * What every command of the CLI shares: where results and progress go, the executors to close,
 * the exit code chosen, and the steps common to the commands (load the config and reach a site's
 * host, print an outcome, report a failed pipeline).
 */
import type { Command } from 'commander'
import { getSite, loadConfig } from '../config/load-config.js'
import type { SitecycleConfig, SiteConfig, SshSettings } from '../config/model.js'
import { hostLabel } from '../config/host-spec.js'
import { siteOnHost } from '../config/site-hosts.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import type { OperationOutcome } from '../pipelines/operation.js'
import { siteAsOnHost } from '../sites/identity.js'
import { DIFFERENCES_EXIT } from '../compare/compare-command.js'
import type { StreamReporter } from '../util/reporter.js'
import type { HostOptions } from './options.js'

export const EXIT = {
  ok: 0,
  failed: 1,
  input: 2,
  locked: 3,
  needsAttention: 4,
  differences: DIFFERENCES_EXIT
} as const

/** One run of the CLI, as its commands see it. */
export interface CliContext {
  reporter: StreamReporter
  /** Results (stdout by default). */
  out: (s: string) => void
  /** The command line before `--`, as given. */
  argv: string[]
  /** The command line after `--`: sitecycle run's command. */
  commandArgv: string[]
  /** Executors the command opened; closed when it ends. */
  opened: Executor[]
  /** The exit code the command chose. */
  code: number
}

/** The command's action: its exit code is kept in the context. */
export function act<A extends unknown[]>(
  ctx: CliContext,
  run: (...args: A) => Promise<number>
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    ctx.code = await run(...args)
  }
}

/** Register a command module on the program. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void

export interface SiteOnHost {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
}

/** The SSH settings of the config file, with the command line's and SITECYCLE_SSH_KEY over them. */
export function sshOf(
  o: Pick<HostOptions, 'sshKeyFile' | 'knownHosts'>,
  config: SitecycleConfig
): SshSettings & { key?: string } {
  return {
    ...config.ssh,
    ...(o.sshKeyFile ? { keyFile: o.sshKeyFile } : {}),
    ...(o.knownHosts ? { knownHostsFile: o.knownHosts } : {}),
    ...(process.env.SITECYCLE_SSH_KEY ? { key: process.env.SITECYCLE_SSH_KEY } : {})
  }
}

/** The config, the site `name` as its host knows it, and an executor there (closed at the end). */
export async function siteAndExecutor(
  ctx: CliContext,
  o: HostOptions,
  name: string
): Promise<SiteOnHost> {
  const config = await loadConfig(o.config)
  const asConfigured = siteOnHost(getSite(config, name), o.host, '--host')
  const exec = createExecutor(asConfigured.host, sshOf(o, config))
  ctx.opened.push(exec)
  // After an upgrade attempt's promote the host knows the site's new role and address.
  const site = await siteAsOnHost(exec, asConfigured).catch(() => asConfigured)
  return { config, site, exec }
}

/**
 * An executor for the source site of a sync or clone: the target's own when both are on one host,
 * else a new one (closed at the end).
 */
export function sourceExecutor(
  ctx: CliContext,
  o: HostOptions,
  t: SiteOnHost,
  source: SiteConfig
): Executor {
  if (hostLabel(source.host) === hostLabel(t.site.host)) return t.exec
  const e = createExecutor(source.host, sshOf(o, t.config))
  ctx.opened.push(e)
  return e
}

export function printOutcome(o: OperationOutcome, json: boolean, out: (s: string) => void): void {
  if (json) {
    out(JSON.stringify(o, null, 2))
    return
  }
  const lines = [
    `${o.op} ${o.status}: site ${o.site} serves ${o.version ?? 'nothing'} (was ${o.previousVersion ?? 'nothing'})`
  ]
  if (o.error) lines.push(`failed at ${o.failedStep}: ${o.error}`)
  out(lines.join('\n'))
}

/** A message on stderr, through the reporter's secret filter. */
export function printError(ctx: CliContext, message: string): void {
  process.stderr.write(ctx.reporter.filter.apply(`sitecycle: ${message}`) + '\n')
}

/**
 * A pipeline that failed after touching a host: its message on stderr, its steps as JSON on
 * stdout when asked, and the exit code (1 when every undo ran, 4 when one did not).
 */
export function reportFailedPipeline(
  ctx: CliContext,
  e: { message: string; failedStep: string; steps: unknown; undoComplete: boolean },
  json: boolean,
  extra: Record<string, unknown> = {}
): number {
  printError(ctx, e.message)
  if (json)
    ctx.out(
      JSON.stringify(
        { status: 'failed', failedStep: e.failedStep, error: e.message, ...extra, steps: e.steps },
        null,
        2
      )
    )
  return e.undoComplete ? EXIT.failed : EXIT.needsAttention
}
