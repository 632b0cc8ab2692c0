/**
 * The `sitecycle` command: the same pipelines as the actions, from a terminal or cron.
 * Progress goes to stderr, results to stdout (--json for machines). Exit codes:
 *   0 done (or nothing to do)
 *   1 the operation failed and was undone: the previous release serves
 *   2 bad input or config: nothing on the host was touched
 *   3 the site is locked by another run
 *   4 the operation failed and some undo failed: look at `sitecycle status`
 *   5 differences found: watch found drift, or compare --fail-on-difference found differences
 */
import { resolve as resolvePath } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { defaultReleaseConfig, loadConfig, getSite } from './config/load-config.js'
import type { SitecycleConfig, SiteConfig, SshSettings, StoreConfig } from './config/model.js'
import { hostLabel } from './config/host-spec.js'
import { hostPlan, siteOnHost } from './config/site-hosts.js'
import { createExecutor } from './hosts/create-executor.js'
import { siteAsOnHost } from './sites/identity.js'
import { attemptCommand, attemptPlan, removeCommand } from './attempt-cli.js'
import type { Executor } from './hosts/executor.js'
import { deploy, type DeployRequest } from './pipelines/deploy.js'
import { formatDryRun, planDeploy, planMaintenance, planRollback } from './pipelines/dry-run.js'
import { initSiteOutcome } from './pipelines/init.js'
import { setMaintenance, type MaintenanceRequest } from './pipelines/maintenance.js'
import { SshConnectionError } from './hosts/ssh-executor.js'
import { checkMaintenanceMessage, checkRetryAfter } from './sites/maintenance.js'
import { cloneSite } from './pipelines/clone.js'
import { DataOperationFailed, restorePlan, restoreSite } from './pipelines/restore.js'
import { syncPlan, syncSite, syncSource } from './pipelines/sync.js'
import { OperationFailed, type OperationOutcome } from './pipelines/operation.js'
import { handoffOf, ReleaseFailed, runRelease } from './pipelines/release.js'
import { rollback, type RollbackRequest } from './pipelines/rollback.js'
import { createStore, type StoreDeps } from './stores/registry.js'
import { siteStatus, unlockSite, type SiteStatus } from './pipelines/status.js'
import { formatSites, listSites } from './pipelines/sites.js'
import { buildRelease } from './releases/build.js'
import { isValidVersion, MAX_VERSION_LENGTH } from './releases/version.js'
import { sitecycleCheckoutRoot } from './releases/work-tree.js'
import { runDemo } from './demo/demo.js'
import { describeBytes, formatSnapshotList, listSnapshots } from './snapshots/list.js'
import { SnapshotFailed, takeSnapshot } from './snapshots/snapshot.js'
import { verifySnapshot, verifySnapshots, VerifyFailed } from './snapshots/verify.js'
import { MirrorFailed, refreshMirror } from './pipelines/mirror.js'
import { ConfigError, SitecycleError } from './util/errors.js'
import { StreamReporter } from './util/reporter.js'
import { runCliWithAlerts } from './alerts/cli-alerts.js'
import { PassThrough } from 'node:stream'
import { runInRelease } from './pipelines/run-command.js'
import { compareCommand, DIFFERENCES_EXIT } from './compare/compare-command.js'
import { watchCommand } from './watch/watch-command.js'

export const EXIT = {
  ok: 0,
  failed: 1,
  input: 2,
  locked: 3,
  needsAttention: 4,
  differences: DIFFERENCES_EXIT
} as const

const USAGE = `usage: sitecycle <command> [site] [options]

commands:
  init <site>       prepare the site root on its host and write its Apache vhost
  deploy <site>     install a release, verify it in the idle slot, switch, roll back on failure
  rollback <site>   go back to the previous release (or --to VERSION); marks the one left as bad
  status <site>     live release, installed releases, lock holder, history
  sites             every site: role, live release, last sync, last snapshot
  unlock <site>     clear the lock of a run that is gone (refuses while it runs)
  run <site> [--release V] -- <command...>
                    a one-off command in the live release (or installed release V) as the site's
                    Apache user, in its virtualenv with its environment; output passed through,
                    its exit code returned; holds the site lock, journalled as run
  snapshot <site>   dump the database and copy the data folders into snapshots/<id> (unchanged
                    files hard-linked to the previous snapshot), apply the retention policy,
                    then verify it as \`verify\` does (--no-verify to skip)
  snapshots <site>  list the site's snapshots with age and size (--json)
  verify <site>     check a snapshot (--snapshot ID, default the newest; --snapshot all: every
                    one) byte by byte against its sums, restore it into a scratch database and
                    compare every table's checksum with its manifest
  restore <site>    put a snapshot (--snapshot ID, default the newest) back into the site, frozen
                    meanwhile: database (fresh copy swapped in) and data folders; undone on failure
  sync <site>       copy the data of the site's \`from:\` site into it (a preview): snapshot the
                    source (or --use-latest), restore, anonymize, run the site's hooks, verify
  clone <source> <new-site>
                    make the configured site <new-site> from <source>: init, copy the data,
                    deploy the release <source> runs (--release PATH to say where it is)
  mirror <site>     refresh a mirror site from the newest snapshot of its \`from\` site that is at
                    least its \`lag\` old (--list --json: the mirror sites, for a workflow matrix)
  attempt start|promote|cancel|status|plan <preview>
                    an upgrade attempt: start syncs the preview from its production, deploys the
                    release to it (--release, --version), freezes production with a link to the
                    preview and syncs once more; promote makes the preview production (its vhost
                    takes production's address; the old production becomes old, frozen, kept
                    --keep-old DURATION, default 7d); cancel unfreezes production. Each resumes
                    an interrupted run. plan prints the preview and production site names (JSON)
  remove <site>     take away an old site after its kept time (--now: before it; --reload: reload
                    Apache at once); keeps its snapshots, journal and database
  maintenance on|off <site>
                    freeze the site (users get 503, Retry-After and the maintenance page; the
                    health path and sites.<n>.maintenance.allow still get through) or open it
                    again (--message TEXT, --retry-after SECONDS)
  compare <siteA> <siteB>
                    live release, packages, release and data files (by hash), config (secrets
                    redacted), database schema, row counts and checksums side by side (--json;
                    --fail-on-difference: exit 5 when anything differs)
  watch <site>      check the live virtualenv's files against their wheels' RECORD hashes, the
                    rendered config against its hash at deploy, the live link against the journal
                    (--json); exit 5 when anything drifted
  hosts <site>      the site's hosts in rolling-deploy order, the canary first (--json: one
                    line with site, hosts, canary and rest, for a workflow matrix)
  release           run the tests, decide the version, build, tag (git) and publish to the
                    stores of release: in the config (and --store PATH); --notes, --skip-tests,
                    --allow-dirty
  build [dir]       build an sdist and a wheel of a Python project with manifest.json (--out DIR)
  demo              build the sample app, deploy v1 and v2 to a local Apache, then a broken v3
                    and watch it roll back (on embedded defaults; --port, --dir)

options:
  -c, --config FILE     sitecycle.yml (default ./sitecycle.yml)
  --host HOST           the host to work on, for a site on several hosts (see: sitecycle hosts SITE)
  --release PATH        release file, release folder or folder of releases (deploy)
  --version VERSION     the version to deploy from a folder of releases or a store (default: newest)
  --store PATH          deploy from the directory store at PATH on this machine (default: the site's store)
  --to VERSION          the installed version to roll back to
  --notes TEXT          release notes (Markdown), kept in the manifest (release)
  --skip-tests          do not run app.tests before releasing; recorded in the manifest (release)
  --allow-dirty         release from a work tree with uncommitted changes; recorded in the
                        manifest and the notes (release)
  --tag TAG             the tag that started the run; its version is released (release)
  --handoff FILE        build only (tests to manifest) and write FILE for the publish action (release)
  --snapshot ID         the snapshot to verify or restore (verify, restore, sync: of the source);
                        \`all\` verifies every complete snapshot in one run
  --use-latest          sync from the source's newest snapshot instead of taking a new one (sync)
  --list                print the mirror sites of the config instead of refreshing one (mirror)
  --message TEXT        the sentence users read on the maintenance page (maintenance on; plain
                        text: control characters are refused, line breaks allowed)
  --retry-after SECONDS Retry-After of the maintenance page (maintenance on; 0 to 86400, default 300)
  --keep-old DURATION   how long a promote keeps the old production, such as 7d or 12h (attempt)
  --lock-wait SECONDS   wait up to SECONDS for a lock held by another run (default 5; 0 fails at once)
  --ssh-key-file FILE   private key for SSH hosts (or set SITECYCLE_SSH_KEY to the key itself)
  --known-hosts FILE    pinned known-hosts file for SSH hosts
  --dry-run             run every check that changes nothing, print the plan and change nothing
                        (deploy: fetch and verify the release, render the config with its secrets,
                        read-only preflight; rollback; maintenance; restore; sync). Other commands
                        refuse it
  --allow-bad           deploy a version, or roll back to one (--to), that a rollback marked bad;
                        it warns, and the mark is removed only when the run succeeds (deploy, rollback)
  --reload              reload Apache after writing the vhost even when other WSGI sites share it
                        (init; a graceful cuts their requests in flight); remove: reload afterwards
  --no-reload           do not reload Apache after writing the vhost (init; by default it reloads
                        only when no other WSGI site is served by the same Apache)
  --no-verify           do not verify the new snapshot (snapshot; by default it is restored into
                        a scratch database and its files checked, as \`sitecycle verify\` does)
  --force               unlock even when the holder's state cannot be told from here
  --fail-on-difference  exit 5 when the sites differ (compare)
  --json                print the result as JSON on stdout
  --unattended          a run from cron: when it fails, alert as alerts: in the config says (mail,
                        issue); a success closes the issue (also SITECYCLE_UNATTENDED=1)
  -q, --quiet           only warnings and the result
  -h, --help            this text

exit codes: 0 done, 1 failed and undone, 2 bad input (nothing touched), 3 locked, 4 needs attention,
5 differences found (watch; compare --fail-on-difference)`

interface Cli {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

function parse(argv: string[]): Cli {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        release: { type: 'string' },
        store: { type: 'string' },
        version: { type: 'string' },
        to: { type: 'string' },
        'lock-wait': { type: 'string' },
        host: { type: 'string' },
        'ssh-key-file': { type: 'string' },
        'known-hosts': { type: 'string' },
        'dry-run': { type: 'boolean' },
        'allow-bad': { type: 'boolean' },
        'no-reload': { type: 'boolean' },
        'no-verify': { type: 'boolean' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        'fail-on-difference': { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        port: { type: 'string' },
        dir: { type: 'string' },
        keep: { type: 'boolean' },
        notes: { type: 'string' },
        'skip-tests': { type: 'boolean' },
        'allow-dirty': { type: 'boolean' },
        tag: { type: 'string' },
        handoff: { type: 'string' },
        snapshot: { type: 'string' },
        'use-latest': { type: 'boolean' },
        message: { type: 'string' },
        'retry-after': { type: 'string' },
        list: { type: 'boolean' },
        unattended: { type: 'boolean' },
        'keep-old': { type: 'string' },
        now: { type: 'boolean' },
        reload: { type: 'boolean' }
      }
    })
    return { values, positionals }
  } catch (e) {
    throw new SitecycleError(`${(e as Error).message}\n\n${USAGE}`, 'usage')
  }
}

function numberOption(cli: Cli, name: string): number | undefined {
  const v = cli.values[name]
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n))
    throw new SitecycleError(
      `--${name} ${String(v)}: expected a number of seconds, e.g. --${name} 60`,
      'usage'
    )
  return n
}

/** The commands that have a dry run (dry-run.ts, or restore's and sync's plan); others refuse the flag. */
const DRY_RUN_COMMANDS = ['deploy', 'rollback', 'maintenance', 'restore', 'sync']
/** The commands that can go to a release marked bad when told to. */
const ALLOW_BAD_COMMANDS = ['deploy', 'rollback']

/** Refuse a flag the command does not honour, before anything is read or touched. */
function refuseUnhonouredFlags(cli: Cli, command: string): void {
  if (cli.values['dry-run'] && !DRY_RUN_COMMANDS.includes(command))
    throw new SitecycleError(
      `--dry-run: sitecycle ${command} has no dry run (refused rather than run for real); the commands with one: ${DRY_RUN_COMMANDS.join(', ')}`,
      'usage'
    )
  if (cli.values['allow-bad'] && !ALLOW_BAD_COMMANDS.includes(command))
    throw new SitecycleError(
      `--allow-bad: only ${ALLOW_BAD_COMMANDS.join(' and ')} go to a release, not sitecycle ${command}`,
      'usage'
    )
}

async function siteAndExecutor(
  cli: Cli
): Promise<{ config: SitecycleConfig; site: SiteConfig; exec: Executor }> {
  const name = cli.positionals[1]
  if (!name)
    throw new SitecycleError(
      `${cli.positionals[0]}: which site? e.g. sitecycle ${cli.positionals[0]} v1\n\n${USAGE}`,
      'usage'
    )
  const config = await loadConfig((cli.values.config as string | undefined) ?? 'sitecycle.yml')
  const asConfigured = siteOnHost(
    getSite(config, name),
    cli.values.host as string | undefined,
    '--host'
  )
  const exec = createExecutor(asConfigured.host, sshOf(cli, config))
  // After an upgrade attempt's promote the host knows the site's new role and address.
  const site = await siteAsOnHost(exec, asConfigured).catch(() => asConfigured)
  return { config, site, exec }
}

/** The SSH settings of the config file, with the command line's and SITECYCLE_SSH_KEY over them. */
function sshOf(cli: Cli, config: SitecycleConfig): SshSettings & { key?: string } {
  return {
    ...config.ssh,
    ...(cli.values['ssh-key-file'] ? { keyFile: cli.values['ssh-key-file'] as string } : {}),
    ...(cli.values['known-hosts'] ? { knownHostsFile: cli.values['known-hosts'] as string } : {}),
    ...(process.env.SITECYCLE_SSH_KEY ? { key: process.env.SITECYCLE_SSH_KEY } : {})
  }
}

/**
 * An executor for the source site of a sync or clone: the target's own when both are on one host,
 * else a new one (added to `opened`, to be closed).
 */
function sourceExecutor(
  cli: Cli,
  t: { config: SitecycleConfig; site: SiteConfig; exec: Executor },
  source: SiteConfig,
  opened: Executor[]
): Executor {
  if (hostLabel(source.host) === hostLabel(t.site.host)) return t.exec
  const e = createExecutor(source.host, sshOf(cli, t.config))
  opened.push(e)
  return e
}

function printOutcome(o: OperationOutcome, json: boolean, out: (s: string) => void): void {
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

function printStatus(s: SiteStatus, json: boolean, out: (s: string) => void): void {
  if (json) {
    out(JSON.stringify(s, null, 2))
    return
  }
  if (!s.initialized) {
    out(
      `site ${s.site} at ${s.root} on ${s.host} is not initialized: run \`sitecycle init ${s.site}\``
    )
    return
  }
  const lines = [
    `site ${s.site} on ${s.host} (${s.root})${s.role ? `, ${s.role}` : ''}${s.frozen ? ', FROZEN (maintenance page)' : ''}`,
    `  live:      ${s.live ?? 'none'} (slot ${s.liveSlot})`,
    `  previous:  ${s.idle ?? 'none'} (${s.idleComplete === false ? (s.running.length ? 'in the idle slot, being installed by the running operation' : 'in the idle slot, half-installed: not a rollback target; the next operation puts the warm release back') : 'warm in the idle slot'})`,
    `  releases:  ${s.releases.map(r => `${r.dir}${r.bad ? ' [bad]' : ''}${r.complete ? '' : ' [incomplete]'}`).join(', ') || 'none'}`,
    `  lock:      ${s.lock ? `held by ${s.lock.op} ${s.lock.id} (${s.lock.actor}, pid ${s.lock.pid} on ${s.lock.machine}, ${s.lock.state}) since ${s.lock.since}` : 'free'}`
  ]
  if (s.attempt)
    lines.push(
      `  attempt:   ${s.attempt.id} ${s.attempt.phase} (${s.attempt.version ?? '?'} on ${s.attempt.preview}, production ${s.attempt.production})`
    )
  if (s.running.length) lines.push(`  running:   ${s.running.join(', ')} (holds the lock)`)
  if (s.unfinished.length)
    lines.push(`  unfinished: ${s.unfinished.join(', ')} (the next operation recovers them)`)
  lines.push('  history:')
  for (const h of s.history)
    lines.push(
      `    ${h.at}  ${h.op.padEnd(8)} ${String(h.version ?? '').padEnd(10)} ${h.status}${h.error ? `: ${String(h.error)}` : ''}`
    )
  out(lines.join('\n'))
}

/**
 * A pipeline that failed after touching a host: its message on stderr, its steps as JSON on
 * stdout when asked, and the exit code (1 when every undo ran, 4 when one did not).
 */
function reportFailedPipeline(
  e: { message: string; failedStep: string; steps: unknown; undoComplete: boolean },
  reporter: StreamReporter,
  json: boolean,
  out: (s: string) => void,
  extra: Record<string, unknown> = {}
): number {
  process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
  if (json)
    out(
      JSON.stringify(
        { status: 'failed', failedStep: e.failedStep, error: e.message, ...extra, steps: e.steps },
        null,
        2
      )
    )
  return e.undoComplete ? EXIT.failed : EXIT.needsAttention
}

/**
 * `sitecycle release`: the release pipeline on this machine with the config's `release:` settings
 * (defaults when it has none), its stores plus `--store PATH`, tagging with git.
 */
async function releaseCommand(
  cli: Cli,
  reporter: StreamReporter,
  json: boolean,
  out: (s: string) => void
): Promise<number> {
  const configFile = (cli.values.config as string | undefined) ?? 'sitecycle.yml'
  const config = await loadConfig(configFile)
  const settings = config.release ?? defaultReleaseConfig(dirname(config.file))
  const executors: Executor[] = []
  const deps: StoreDeps = {
    executorFor: host => {
      const e = createExecutor(host, config.ssh)
      executors.push(e)
      return e
    },
    env: process.env
  }
  try {
    const storeConfigs: StoreConfig[] = [...settings.stores]
    if (typeof cli.values.store === 'string') {
      storeConfigs.push({
        type: 'directory',
        path: resolvePath(cli.values.store),
        host: { kind: 'local' }
      })
    }
    const handoffFile = cli.values.handoff as string | undefined
    // sitecycle checked out inside the application's work tree (the reusable workflow) is not
    // the application's: it does not make the tree dirty.
    const sitecycleRoot = sitecycleCheckoutRoot()
    const notes = cli.values.notes as string | undefined
    const outcome = await runRelease({
      app: config.app,
      release: settings,
      // With --handoff only the build happens here; the publish action checks and fills the stores
      // (it holds the tokens a github-release or artifact store needs).
      stores: handoffFile ? [] : storeConfigs.map(s => createStore(s, deps)),
      reporter,
      version: cli.values.version as string | undefined,
      tag: cli.values.tag as string | undefined,
      notes,
      skipTests: Boolean(cli.values['skip-tests']),
      allowDirty: Boolean(cli.values['allow-dirty']),
      ...(sitecycleRoot !== undefined && { ignorePaths: [sitecycleRoot] }),
      stage: handoffFile ? 'prepare' : 'all'
    })
    if (handoffFile) {
      await writeFile(handoffFile, `${JSON.stringify(handoffOf(outcome, notes), null, 2)}\n`)
    }
    if (json) out(JSON.stringify(outcome, null, 2))
    else {
      const where = outcome.published.map(p => p.location).join(', ')
      out(
        handoffFile
          ? `built ${outcome.name} ${outcome.version} into ${outcome.releaseDir}; handoff written to ${handoffFile}`
          : `released ${outcome.name} ${outcome.version} as tag ${outcome.tag}${where ? `, published to ${where}` : ''}`
      )
    }
    return EXIT.ok
  } catch (e) {
    if (!(e instanceof ReleaseFailed)) throw e
    const code = reportFailedPipeline(e, reporter, json, out)
    // A dirty tree, a version refused, a build backend nobody configured: input, nothing touched.
    const badInput =
      ['check-tree', 'decide-version', 'check-version'].includes(e.failedStep) ||
      (e.cause instanceof SitecycleError && ['config', 'input'].includes(e.cause.kind))
    return badInput ? EXIT.input : code
  } finally {
    for (const e of executors) await e.close().catch(() => undefined)
  }
}

/** Run the CLI; returns the exit code. `out` receives results, progress goes to the reporter. */
export async function main(
  argv: string[],
  out: (s: string) => void = s => process.stdout.write(s + '\n')
): Promise<number> {
  const reporter = new StreamReporter(undefined, false)
  let exec: Executor | undefined
  try {
    // `run`'s command comes after `--`, untouched by sitecycle's own options.
    const dashes = argv.indexOf('--')
    const commandArgv = dashes < 0 ? [] : argv.slice(dashes + 1)
    const cli = parse(dashes < 0 ? argv : argv.slice(0, dashes))
    if (dashes >= 0 && cli.positionals[0] !== 'run')
      throw new SitecycleError(
        `--: only sitecycle run takes a command after --, not sitecycle ${cli.positionals[0] ?? ''}`.trimEnd(),
        'usage'
      )
    if (cli.values.quiet) Object.assign(reporter, { quiet: true })
    const command = cli.positionals[0]
    if (cli.values.help || !command || command === 'help') {
      out(USAGE)
      return command || cli.values.help ? EXIT.ok : EXIT.input
    }
    const json = Boolean(cli.values.json)
    const lockWait = numberOption(cli, 'lock-wait')
    for (const v of ['version', 'to'] as const) {
      const s = cli.values[v]
      if (typeof s === 'string' && s.length > MAX_VERSION_LENGTH)
        throw new SitecycleError(
          `--${v} ${s.slice(0, 20)}... (${s.length} characters): a version has at most ${MAX_VERSION_LENGTH} characters`,
          'input'
        )
      if (typeof s === 'string' && !isValidVersion(s))
        throw new SitecycleError(
          `--${v} ${s}: invalid version; expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`,
          'input'
        )
    }
    refuseUnhonouredFlags(cli, command)
    const dryRun = Boolean(cli.values['dry-run'])
    const allowBad = Boolean(cli.values['allow-bad'])
    switch (command) {
      case 'init': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        if (cli.values.reload && cli.values['no-reload'])
          throw new SitecycleError('--reload and --no-reload: give one of them', 'usage')
        const o = await initSiteOutcome({
          ...t,
          reporter,
          reload: cli.values.reload ? 'always' : cli.values['no-reload'] ? 'never' : 'when-alone'
        })
        if (o.otherSites.length)
          reporter.warn(
            `Apache was not reloaded: a graceful restart restarts the daemon processes of every WSGI site on it and cuts their requests in flight (${o.otherSites.join('; ')}). ` +
              `Site ${t.site.name} is served after Apache's next reload: run \`sitecycle init ${t.site.name} --reload\` at a quiet time, or reload Apache yourself`
          )
        out(
          o.reloaded
            ? `site ${t.site.name} is ready at ${t.site.root} on ${t.exec.name}; vhost for ${t.site.url}`
            : `site ${t.site.name} is initialized at ${t.site.root} on ${t.exec.name}; vhost for ${t.site.url} written, served after Apache's next reload`
        )
        return EXIT.ok
      }
      case 'deploy': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const request: DeployRequest = {
          ...t,
          reporter,
          release: cli.values.release as string | undefined,
          version: cli.values.version as string | undefined,
          ...(typeof cli.values.store === 'string' && {
            store: {
              type: 'directory' as const,
              path: resolvePath(cli.values.store),
              host: { kind: 'local' as const }
            }
          }),
          lockWait,
          allowBad
        }
        if (dryRun) {
          const plan = await planDeploy(request)
          out(json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
          return EXIT.ok
        }
        printOutcome(await deploy(request), json, out)
        return EXIT.ok
      }
      case 'rollback': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const request: RollbackRequest = {
          ...t,
          reporter,
          to: cli.values.to as string | undefined,
          lockWait,
          allowBad
        }
        if (dryRun) {
          const plan = await planRollback(request)
          out(json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
          return EXIT.ok
        }
        printOutcome(await rollback(request), json, out)
        return EXIT.ok
      }
      case 'sites': {
        const config = await loadConfig(
          (cli.values.config as string | undefined) ?? 'sitecycle.yml'
        )
        const opened: Executor[] = []
        try {
          const rows = await listSites(config, site => {
            const e = createExecutor(site.host, sshOf(cli, config))
            opened.push(e)
            return e
          })
          out(json ? JSON.stringify(rows, null, 2) : formatSites(rows))
        } finally {
          for (const e of opened) await e.close().catch(() => undefined)
        }
        return EXIT.ok
      }
      case 'status': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        printStatus(await siteStatus(t.config, t.site, t.exec), json, out)
        return EXIT.ok
      }
      case 'run': {
        if (cli.positionals.length > 2 || !commandArgv.length)
          throw new SitecycleError(
            'run: the command goes after --, e.g. sitecycle run v1 -- python manage.py createsuperuser',
            'usage'
          )
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const stdout = new PassThrough()
        stdout.pipe(process.stdout)
        const o = await runInRelease({
          ...t,
          reporter,
          argv: commandArgv,
          release: cli.values.release as string | undefined,
          lockWait,
          stdout,
          stderr: process.stderr
        })
        return o.code
      }
      case 'unlock': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const h = await unlockSite(t.site, t.exec, Boolean(cli.values.force))
        out(
          h
            ? `lock of ${h.op} ${h.id} (${h.actor}) on site ${t.site.name} cleared`
            : `site ${t.site.name} is not locked`
        )
        return EXIT.ok
      }
      case 'snapshot': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        try {
          const o = await takeSnapshot({ ...t, reporter, lockWait })
          // As the snapshot action does by default: a snapshot is checked before it is trusted.
          const verified = cli.values['no-verify']
            ? undefined
            : await verifySnapshot({ ...t, reporter, lockWait, snapshot: o.id })
          out(
            json
              ? JSON.stringify(verified ? { ...o, verify: verified } : o, null, 2)
              : `snapshot ${o.id} of site ${t.site.name} written to ${o.dir}: ${o.manifest.database ? `${o.manifest.database.engine} dump ${describeBytes(o.manifest.database.size)}, ` : ''}${o.manifest.files.count} files ${describeBytes(o.manifest.files.bytes)}` +
                  (o.removed.length ? `; retention removed ${o.removed.join(', ')}` : '') +
                  (verified ? '; verified' : '; not verified (--no-verify)')
          )
          return EXIT.ok
        } catch (e) {
          if (e instanceof VerifyFailed) {
            process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
            if (json) out(JSON.stringify(e.outcome, null, 2))
            return EXIT.failed
          }
          if (!(e instanceof SnapshotFailed)) throw e
          return reportFailedPipeline(e, reporter, json, out)
        }
      }
      case 'snapshots': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const list = await listSnapshots(t.exec, t.site, t.config.app.python)
        out(json ? JSON.stringify(list, null, 2) : formatSnapshotList(t.site.name, list))
        return EXIT.ok
      }
      case 'verify': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        const asked = cli.values.snapshot as string | undefined
        try {
          const outcomes =
            asked === 'all'
              ? await verifySnapshots({ ...t, reporter, lockWait, snapshots: 'all' })
              : [await verifySnapshot({ ...t, reporter, lockWait, snapshot: asked })]
          if (json) out(JSON.stringify(asked === 'all' ? outcomes : outcomes[0], null, 2))
          else
            for (const o of outcomes)
              out(
                `snapshot ${o.snapshot} of site ${t.site.name} verified: ${o.sums ? `${o.sums.checked} files match their sha256, ` : ''}${o.database ? `${o.database.tables.length} tables restored into ${o.database.scratch} match the manifest, ` : ''}${o.files.length} data folders match`
              )
          return EXIT.ok
        } catch (e) {
          if (!(e instanceof VerifyFailed)) throw e
          process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
          if (json) out(JSON.stringify(asked === 'all' ? e.outcomes : e.outcome, null, 2))
          return EXIT.failed
        }
      }
      case 'mirror': {
        if (cli.values.list) {
          const config = await loadConfig(
            (cli.values.config as string | undefined) ?? 'sitecycle.yml'
          )
          const names = Object.values(config.sites)
            .filter(s => s.role === 'mirror')
            .map(s => s.name)
          out(json ? JSON.stringify(names) : names.join('\n'))
          return EXIT.ok
        }
        const t = await siteAndExecutor(cli)
        exec = t.exec
        try {
          const o = await refreshMirror({ ...t, reporter, lockWait })
          out(
            json
              ? JSON.stringify(o, null, 2)
              : o.status === 'refreshed'
                ? `mirror ${o.site} shows snapshot ${o.snapshot} of site ${o.from} now (lag ${o.lag}; it showed ${o.previousSnapshot ?? 'none'})`
                : o.status === 'unchanged'
                  ? `mirror ${o.site} already shows snapshot ${o.snapshot} of site ${o.from} (lag ${o.lag}): nothing to do`
                  : `mirror ${o.site}: no snapshot of site ${o.from} is ${o.lag} old yet; it keeps ${o.snapshot ?? 'what it has'}`
          )
          return EXIT.ok
        } catch (e) {
          if (!(e instanceof MirrorFailed)) throw e
          return reportFailedPipeline(e, reporter, json, out)
        }
      }
      case 'restore':
      case 'sync':
      case 'clone': {
        if (dryRun && command !== 'clone') {
          out((command === 'restore' ? restorePlan() : syncPlan()).join('\n'))
          return EXIT.ok
        }
        if (command === 'clone' && cli.positionals.length !== 3)
          throw new SitecycleError(
            `clone: expected a source site and a new site, e.g. sitecycle clone v1 v3\n\n${USAGE}`,
            'usage'
          )
        const t = await siteAndExecutor(
          command === 'clone' ? { ...cli, positionals: ['clone', cli.positionals[2]] } : cli
        )
        exec = t.exec
        const snapshot = cli.values.snapshot as string | undefined
        const opened: Executor[] = []
        try {
          if (command === 'clone') {
            const source = getSite(t.config, cli.positionals[1])
            const o = await cloneSite({
              config: t.config,
              source,
              site: t.site,
              exec: t.exec,
              sourceExec: sourceExecutor(cli, t, source, opened),
              reporter,
              lockWait,
              release: cli.values.release as string | undefined
            })
            out(
              json
                ? JSON.stringify(o, null, 2)
                : `site ${o.site} cloned from ${o.source}: ${o.version} live at ${o.url}, data of snapshot ${o.data.snapshot}`
            )
            return EXIT.ok
          }
          const o =
            command === 'restore'
              ? await restoreSite({ ...t, reporter, lockWait, snapshot })
              : await syncSite({
                  ...t,
                  sourceExec: sourceExecutor(cli, t, syncSource(t.config, t.site), opened),
                  reporter,
                  lockWait,
                  snapshot,
                  useLatest: Boolean(cli.values['use-latest'])
                })
          out(
            json
              ? JSON.stringify(o, null, 2)
              : `site ${o.site} ${o.status} from snapshot ${o.snapshot} of site ${o.source.site}` +
                  (o.database ? `: ${o.database.tables.length} tables` : '') +
                  (o.files.length ? `, ${o.files.length} data folder(s)` : '') +
                  (o.anonymized ? ', anonymized' : '') +
                  (o.hooks ? `, ${o.hooks} hook(s) run in ${o.live}` : '') +
                  (o.frozen ? '; it stays frozen (it was before)' : '')
          )
          return EXIT.ok
        } catch (e) {
          if (!(e instanceof DataOperationFailed)) throw e
          return reportFailedPipeline(e, reporter, json, out, { frozen: e.leftFrozen })
        } finally {
          for (const e of opened) await e.close().catch(() => undefined)
        }
      }
      case 'maintenance': {
        const action = cli.positionals[1]
        if (action !== 'on' && action !== 'off')
          throw new SitecycleError(
            `maintenance: expected on or off, e.g. sitecycle maintenance on v1\n\n${USAGE}`,
            'usage'
          )
        if (!cli.positionals[2])
          throw new SitecycleError(
            `maintenance ${action}: which site? e.g. sitecycle maintenance ${action} v1\n\n${USAGE}`,
            'usage'
          )
        const retryAfter = numberOption(cli, 'retry-after')
        if (retryAfter !== undefined) checkRetryAfter(retryAfter, '--retry-after')
        if (typeof cli.values.message === 'string')
          checkMaintenanceMessage(cli.values.message, '--message')
        const t = await siteAndExecutor({ ...cli, positionals: cli.positionals.slice(1) })
        exec = t.exec
        const request: MaintenanceRequest = {
          ...t,
          reporter,
          action,
          lockWait,
          options: {
            ...(typeof cli.values.message === 'string' && { message: cli.values.message }),
            ...(retryAfter !== undefined && { retryAfter })
          }
        }
        if (dryRun) {
          const plan = await planMaintenance(request)
          out(json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
          return EXIT.ok
        }
        const o = await setMaintenance(request)
        out(
          json
            ? JSON.stringify(o, null, 2)
            : o.status === 'frozen'
              ? `site ${o.site} is frozen${o.wasFrozen ? ' (it already was; page updated)' : ''}: ${o.url} answers 503 with the maintenance page, Retry-After ${o.retryAfter}`
              : `site ${o.site} is open${o.wasFrozen ? ' again' : ' (it was not frozen)'}: ${o.url}`
        )
        return EXIT.ok
      }
      case 'compare': {
        if (!cli.positionals[2])
          throw new SitecycleError(
            `compare: which two sites? e.g. sitecycle compare v1 v2\n\n${USAGE}`,
            'usage'
          )
        const a = await siteAndExecutor(cli)
        exec = a.exec
        const b = await siteAndExecutor({ ...cli, positionals: ['compare', cli.positionals[2]] })
        try {
          return await compareCommand({
            a,
            b,
            json,
            failOnDifference: Boolean(cli.values['fail-on-difference']),
            reporter,
            out
          })
        } finally {
          await b.exec.close().catch(() => undefined)
        }
      }
      case 'watch': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        return await watchCommand({ ...t, json, out })
      }
      case 'attempt': {
        const sub = cli.positionals[1]
        if (sub === 'plan') {
          // From the config file alone (no host is reached): the two sites, for a workflow.
          const config = await loadConfig(
            (cli.values.config as string | undefined) ?? 'sitecycle.yml'
          )
          out(JSON.stringify(attemptPlan(config, cli.positionals[2])))
          return EXIT.ok
        }
        const t = await siteAndExecutor({ ...cli, positionals: cli.positionals.slice(1) })
        exec = t.exec
        const opened: Executor[] = []
        try {
          return await attemptCommand({
            cli,
            sub,
            config: t.config,
            name: cli.positionals[2],
            exec: t.exec,
            productionExec: site => sourceExecutor(cli, t, site, opened),
            reporter,
            json,
            out,
            lockWait
          })
        } finally {
          for (const e of opened) await e.close().catch(() => undefined)
        }
      }
      case 'remove': {
        const t = await siteAndExecutor(cli)
        exec = t.exec
        return await removeCommand({ cli, ...t, reporter, json, out, lockWait })
      }
      case 'hosts': {
        const name = cli.positionals[1]
        if (!name)
          throw new SitecycleError(
            `hosts: which site? e.g. sitecycle hosts v1\n\n${USAGE}`,
            'usage'
          )
        const config = await loadConfig(
          (cli.values.config as string | undefined) ?? 'sitecycle.yml'
        )
        const plan = hostPlan(getSite(config, name))
        out(json ? JSON.stringify(plan) : plan.hosts.join('\n'))
        return EXIT.ok
      }
      case 'release':
        return await releaseCommand(cli, reporter, json, out)
      case 'build': {
        const source = cli.positionals[1] ?? '.'
        const outDir = (cli.values.out as string | undefined) ?? 'releases'
        const built = await buildRelease({
          sourceDir: source,
          outDir,
          onProgress: l => reporter.info(`   ${l}`)
        })
        out(
          json
            ? JSON.stringify(built.manifest, null, 2)
            : `built ${built.manifest.name} ${built.manifest.version} into ${built.dir}`
        )
        return EXIT.ok
      }
      case 'demo':
        return await runDemo({
          port: numberOption(cli, 'port'),
          dir: cli.values.dir as string | undefined,
          keep: cli.values.keep !== undefined ? Boolean(cli.values.keep) : true,
          reporter,
          out
        })
      default:
        throw new SitecycleError(`unknown command '${command}'\n\n${USAGE}`, 'usage')
    }
  } catch (e) {
    if (e instanceof OperationFailed) {
      printOutcome(e.outcome, Boolean(argv.includes('--json')), out)
      reporter.warn(e.message)
      return e.outcome.undoComplete ? EXIT.failed : EXIT.needsAttention
    }
    if (e instanceof SitecycleError) {
      process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
      if (e.kind === 'lock') return EXIT.locked
      // A host key that is not the pinned one: refused before anything ran on the host.
      if (e instanceof SshConnectionError && e.reason === 'host-key') return EXIT.input
      if (
        e instanceof ConfigError ||
        ['config', 'input', 'usage', 'release', 'site'].includes(e.kind)
      )
        return EXIT.input
      return EXIT.failed
    }
    process.stderr.write(
      reporter.filter.apply(
        `sitecycle: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
      ) + '\n'
    )
    return EXIT.failed
  } finally {
    await exec?.close().catch(() => undefined)
  }
}

const isMain = process.argv[1] && /(?:^|[\\/])(cli\.(?:js|ts)|sitecycle)$/.test(process.argv[1])
if (isMain) {
  runCliWithAlerts(process.argv.slice(2), main).then(code => process.exit(code))
}
