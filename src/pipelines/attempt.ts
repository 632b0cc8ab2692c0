/**
 * Upgrade attempts (`sitecycle attempt start|promote|cancel|status <preview>`, actions/attempt,
 * the reusable workflow upgrade-attempt.yml): a new release is tried on a freshly synced preview
 * during an agreed window while production is frozen; at the end the preview is promoted to
 * production (users keep what they did during the window) or the attempt is cancelled
 * (production goes on, nothing lost).
 *
 * start:   sync the preview from production (production still open) → deploy the release to the
 *          preview (verified on production's data before production is touched) → lift the
 *          preview's basic auth for the window (a flag file its vhost tests on each request), so
 *          the users production sends there get in → freeze production, its maintenance page
 *          pointing users to the preview → catch up: sync again from the frozen production, so no
 *          write made before the freeze is left behind (the preview's own hooks migrate the copy)
 *          → the window is open.
 * promote: freeze the preview → give the preview production's address and role and the old
 *          production the preview's address and the role `old` (both vhosts rewritten, tested
 *          with configtest, one `apachectl graceful` while both sites are frozen) → verify the
 *          new production at production's address → open it → move the mirrors that followed
 *          the old production to the new one (sites/mirror-state.ts) → drop the window's flag.
 *          The old site stays frozen, its page pointing to production, until `sitecycle remove`
 *          after the kept time; it takes the preview's address and its basic auth.
 * cancel:  unfreeze production (unless it was frozen before the attempt) → restore the preview's
 *          basic auth (drop the window's flag); the preview is left as it is, for inspection. An
 *          interrupted promote is put back first.
 *
 * The attempt's state is in both sites (sites/attempt-record.ts) and every change of phase in
 * both journals: each command resumes from the recorded phase, so a run killed anywhere is
 * finished by running the same command again, or cancelled.
 */
import { accessOpenFlagPath, apacheConfigTest, renderVhost } from '../commands/apache.js'
import { removeFile } from '../commands/files.js'
import { hostLabel } from '../config/host-spec.js'
import { formatDuration } from '../config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { DatabaseConfig, DatabaseEngine } from '../databases/engine.js'
import type { Executor } from '../hosts/executor.js'
import { readAccessCredentials, writePasswordFile } from '../sites/access.js'
import { reloadApache } from '../sites/apache-reload.js'
import {
  attemptFinished,
  moveAttempt,
  phaseAfter,
  readAttempt,
  type AttemptPhase,
  type AttemptRecord,
  type AttemptSite
} from '../sites/attempt-record.js'
import {
  addressOf,
  newIdentity,
  readIdentity,
  applyIdentity,
  withAddress,
  writeIdentity,
  type SiteIdentity
} from '../sites/identity.js'
import { newOperationId } from '../sites/journal.js'
import { vhostFileName } from '../sites/layout.js'
import { currentHolder } from '../sites/lock.js'
import { freeze, frozenState, unfreeze } from '../sites/maintenance.js'
import { readMirrorState, writeMirrorState } from '../sites/mirror-state.js'
import { describeProbe, probeHealth, readSiteState } from '../sites/site-state.js'
import { retentionHorizonSeconds } from '../snapshots/retention.js'
import { retentionOf } from '../snapshots/snapshot.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { deploy, prepareDeploy } from './deploy.js'
import { setMaintenance } from './maintenance.js'
import { withSiteOperation, type OperationContext } from './operation.js'
import { failureCause } from './outcome.js'
import { PipelineError, runPipeline, type Step, type StepReport } from './pipeline.js'
import { syncSite, syncSource } from './sync.js'

/** The two sites of an attempt and how to reach them. */
export interface AttemptRequest {
  config: SitecycleConfig
  /** The preview, as sitecycle.yml has it (its `from:` is production). */
  preview: SiteConfig
  previewExec: Executor
  /** An executor on production's host (the preview's when both are on one host). */
  productionExec: Executor
  reporter: Reporter
  /** Seconds to wait for each site's lock. */
  lockWait?: number
  /** Where secrets are read (config template, database and basic-auth passwords). */
  env?: NodeJS.ProcessEnv
  /** The engine registry (tests may pass their own). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
}

export interface StartAttemptRequest extends AttemptRequest {
  /** A release file or folder (else the preview's releases folder or store). */
  release?: string
  /** The version to take from a folder of releases or a store. */
  version?: string
  /** The sentence production's maintenance page shows during the window. */
  message?: string
}

export interface PromoteRequest extends AttemptRequest {
  /** Seconds the old production is kept before `sitecycle remove` takes it (default 7 days). */
  keepOldSeconds?: number
}

/** What an attempt command did, for outputs, summaries and exit codes. */
export interface AttemptOutcome {
  attempt: string
  phase: AttemptPhase
  preview: string
  production: string
  version: string | null
  previousVersion: string | null
  previewUrl: string
  productionUrl: string
  steps: StepReport[]
  notes: string[]
  /** After a promote: when the old site may be removed. */
  removeAfter?: string
}

/** Default time an old production is kept after a promote. */
export const DEFAULT_KEEP_OLD_SECONDS = 7 * 24 * 3600

/** The two sites as their hosts know them, plus the attempt recorded on them. */
interface Resolved {
  production: SiteConfig
  preview: SiteConfig
  /** Both, as sitecycle.yml has them. */
  configProduction: SiteConfig
  configPreview: SiteConfig
  record?: AttemptRecord
  identities: { production?: SiteIdentity; preview?: SiteIdentity }
}

async function resolveSites(req: AttemptRequest): Promise<Resolved> {
  const configPreview = req.preview
  const configProduction = syncSource(req.config, configPreview)
  const identities = {
    production: await readIdentity(req.productionExec, configProduction),
    preview: await readIdentity(req.previewExec, configPreview)
  }
  const production = applyIdentity(configProduction, identities.production)
  const preview = applyIdentity(configPreview, identities.preview)
  const onPreview = await readAttempt(req.previewExec, configPreview)
  const onProduction = await readAttempt(req.productionExec, configProduction)
  // The preview's record is written last: when the two differ, a run died between the writes and
  // the production's is the newer one (moveAttempt writes production first).
  const record =
    onProduction && onPreview && onProduction.id === onPreview.id
      ? onProduction.updatedAt >= onPreview.updatedAt
        ? onProduction
        : onPreview
      : (onPreview ?? onProduction)
  return { production, preview, configProduction, configPreview, record, identities }
}

function sitesOf(
  req: AttemptRequest,
  r: Resolved
): { production: AttemptSite; preview: AttemptSite } {
  return {
    production: {
      site: r.configProduction,
      exec: req.productionExec,
      python: req.config.app.python
    },
    preview: { site: r.configPreview, exec: req.previewExec, python: req.config.app.python }
  }
}

/** Who moves the attempt along: the workflow run's URL, else user@machine. */
function runUrl(): string {
  const h = currentHolder('attempt', '')
  return h.run ?? `${h.actor}@${h.machine}`
}

function outcomeOf(record: AttemptRecord, steps: StepReport[], notes: string[]): AttemptOutcome {
  return {
    attempt: record.id,
    phase: record.phase,
    preview: record.preview,
    production: record.production,
    version: record.version ?? null,
    previousVersion: record.previousVersion,
    previewUrl: record.previewUrl,
    productionUrl: record.productionUrl,
    steps,
    notes,
    ...(record.removeAfter && { removeAfter: record.removeAfter })
  }
}

/** An attempt command that failed: its steps, and what stands now. */
export class AttemptFailed extends SitecycleError {
  constructor(
    message: string,
    readonly outcome: AttemptOutcome,
    readonly failedStep: string
  ) {
    super(message, 'attempt-failed')
    this.name = 'AttemptFailed'
  }
}

/** Checks common to every command, before any host is touched. */
function checkPair(r: Resolved): void {
  const { preview } = r
  if (preview.anonymize)
    throw new SitecycleError(
      `site ${preview.name} has anonymize: set, but an upgrade attempt's preview becomes production when promoted: its data must be production's own. Attempt on a preview site without sites.${preview.name}.anonymize`,
      'config'
    )
  if (!/^https?:\/\//.test(preview.url))
    throw new SitecycleError(
      `sites.${preview.name}.url is ${JSON.stringify(preview.url)}: production's maintenance page links to it, so it must be an http:// or https:// URL`,
      'config'
    )
}

// ---------------------------------------------------------------------------------------------
// start

interface StartContext {
  req: StartAttemptRequest
  r: Resolved
  record: AttemptRecord
  sites: { production: AttemptSite; preview: AttemptSite }
  run: string
  notes: string[]
}

function startSteps(): Step<StartContext>[] {
  const from = (c: StartContext, phase: AttemptPhase) => !phaseAfter(c.record.phase, phase)
  const sync = (c: StartContext) =>
    syncSite({
      config: c.req.config,
      site: c.r.configPreview,
      exec: c.req.previewExec,
      reporter: c.req.reporter,
      source: c.r.configProduction,
      sourceExec: c.req.productionExec,
      attempt: c.record.id,
      ...(c.req.lockWait !== undefined && { lockWait: c.req.lockWait }),
      ...(c.req.engines && { engines: c.req.engines })
    })
  return [
    {
      name: 'sync-preview',
      title: 'sync the preview from production (production stays open meanwhile)',
      when: c => from(c, 'syncing'),
      run: async c => {
        const out = await sync(c)
        c.record = await moveAttempt(c.record, 'deploying', c.sites, c.run)
        return `snapshot ${out.snapshot} of site ${c.r.production.name}`
      }
    },
    {
      name: 'deploy-preview',
      title: 'deploy the release to the preview, verified on production data',
      when: c => from(c, 'deploying'),
      run: async c => {
        const out = await deploy({
          config: c.req.config,
          site: c.r.preview,
          exec: c.req.previewExec,
          reporter: c.req.reporter,
          ...(c.req.lockWait !== undefined && { lockWait: c.req.lockWait }),
          ...(c.req.env && { env: c.req.env }),
          ...c.record.asked
        })
        c.record = await moveAttempt(c.record, 'freezing', c.sites, c.run, {
          version: out.version ?? undefined
        })
        return `${out.version} ${out.status} on site ${c.r.preview.name}`
      }
    },
    {
      name: 'open-preview',
      title: "lift the preview's basic auth for the window: production sends its users there",
      when: c => from(c, 'freezing'),
      run: async c => openWindow(c.req.previewExec, c.r.preview, c.record.id, c.notes)
    },
    {
      name: 'freeze-production',
      title: 'freeze production: its maintenance page sends users to the preview',
      when: c => from(c, 'freezing'),
      run: async c => {
        const message =
          c.req.message ??
          `This site is being upgraded to version ${c.record.version}. Meanwhile, please use the new version at ${c.r.preview.url}: what you do there is kept.`
        await setMaintenance({
          config: c.req.config,
          site: c.r.production,
          exec: c.req.productionExec,
          reporter: c.req.reporter,
          action: 'on',
          options: {
            message,
            link: { url: c.r.preview.url, text: `Go to version ${c.record.version}` }
          },
          ...(c.req.lockWait !== undefined && { lockWait: c.req.lockWait })
        })
        c.record = await moveAttempt(c.record, 'catching-up', c.sites, c.run)
        return `${c.r.production.name} answers 503 with a link to ${c.r.preview.url}`
      }
    },
    {
      name: 'catch-up',
      title:
        'sync the preview again from the frozen production: no write made before the freeze is left behind',
      when: c => from(c, 'catching-up'),
      run: async c => {
        const out = await sync(c)
        c.record = await moveAttempt(c.record, 'open', c.sites, c.run)
        return `snapshot ${out.snapshot}; the window is open on ${c.r.preview.url}`
      }
    }
  ]
}

/**
 * Lift a protected preview's basic auth while the attempt's window is open: the flag its vhost
 * tests on each request (commands/apache.ts accessOpenFlagPath), no reload. A vhost written by an
 * older sitecycle does not test it: then a note says to re-run `sitecycle init`.
 */
async function openWindow(
  exec: Executor,
  preview: SiteConfig,
  attempt: string,
  notes: string[]
): Promise<string> {
  if (!preview.access?.basicAuth) return `site ${preview.name} has no basic auth: open already`
  const flag = accessOpenFlagPath(preview)
  await exec.writeFile(flag, `${attempt}\n`, 0o644)
  const vhost = await exec.readFile(vhostPath(preview))
  if (vhost !== undefined && !vhost.includes(flag))
    notes.push(
      `the vhost of site ${preview.name} predates the attempt window's open access: its users still need its basic-auth password; run \`sitecycle init ${preview.name}\` before the next attempt`
    )
  return `basic auth of ${preview.name} lifted until promote or cancel (${flag})`
}

/** Put back a preview's basic auth after the window (nothing when it was not lifted). */
async function closeWindow(exec: Executor, preview: SiteConfig): Promise<string> {
  await exec.run(removeFile(accessOpenFlagPath(preview)))
  return preview.access?.basicAuth
    ? `basic auth of ${preview.name} back`
    : `site ${preview.name} has no basic auth`
}

/**
 * Point the mirrors that follow `oldProduction` (by `from:`, or by an earlier promote) at
 * `newProduction` from now on: recorded in each mirror's state, read by its refresh and by the
 * new production's retention (sites/mirror-state.ts). Mirrors live on their source's host.
 */
async function moveMirrors(
  exec: Executor,
  config: SitecycleConfig,
  oldProduction: string,
  newProduction: string,
  attempt: string
): Promise<string[]> {
  const moved: string[] = []
  const since = new Date().toISOString()
  for (const m of Object.values(config.sites)) {
    if (m.role !== 'mirror' || m.from === undefined || !m.lag) continue
    const state = await readMirrorState(exec, m)
    if ((state?.follows?.site ?? m.from) !== oldProduction) continue
    const follows = { site: newProduction, before: oldProduction, since, attempt }
    await writeMirrorState(
      exec,
      m,
      {
        ...(state ?? {
          from: oldProduction,
          snapshot: null,
          takenAt: null,
          refreshedAt: since,
          lag: m.lag.text
        }),
        follows
      },
      config.app.python
    )
    moved.push(m.name)
  }
  return moved
}

/**
 * Start an upgrade attempt, or resume one that did not reach its window (see the module comment).
 * Throws a SitecycleError on bad input (nothing touched) and AttemptFailed when a phase failed
 * (the attempt stays at that phase: run start again to resume, or cancel).
 */
export async function startAttempt(req: StartAttemptRequest): Promise<AttemptOutcome> {
  const r = await resolveSites(req)
  checkPair(r)
  if (r.preview.role !== 'preview' && !(r.record && !attemptFinished(r.record.phase)))
    throw new SitecycleError(
      `site ${r.preview.name} has the role ${r.preview.role}: an upgrade attempt runs on a preview site (role preview, from: its production)`,
      'config'
    )
  if (r.production.role !== 'production')
    throw new SitecycleError(
      `site ${r.production.name} (the from: of ${r.preview.name}) has the role ${r.production.role}: an upgrade attempt promotes a preview over a production site`,
      'config'
    )
  let record = r.record
  if (record && !attemptFinished(record.phase)) {
    const same =
      (req.version === undefined ||
        req.version === record.asked.version ||
        req.version === record.version) &&
      (req.release === undefined || req.release === record.asked.release)
    if (!same)
      throw new SitecycleError(
        `attempt ${record.id} of ${record.version ?? record.asked.version ?? record.asked.release ?? 'a release'} on site ${record.preview} is ${record.phase}: promote or cancel it before starting another`,
        'site'
      )
    if (phaseAfter(record.phase, 'catching-up')) {
      req.reporter.info(`attempt ${record.id} is already ${record.phase}: nothing to start`)
      return outcomeOf(record, [], [`attempt ${record.id} is ${record.phase}`])
    }
    req.reporter.info(`resuming attempt ${record.id} from its phase ${record.phase}`)
  } else {
    // Everything a deploy checks before touching a host (release, checksum, config secrets).
    const prepared = await prepareDeploy({
      config: req.config,
      site: r.preview,
      exec: req.previewExec,
      reporter: req.reporter,
      ...(req.release !== undefined && { release: req.release }),
      ...(req.version !== undefined && { version: req.version }),
      ...(req.env && { env: req.env })
    })
    await prepared.cleanup()
    const prodState = await readSiteState(req.productionExec, r.production, req.config.app.python)
    const now = new Date().toISOString()
    const fresh: AttemptRecord = {
      id: `attempt-${newOperationId()}`,
      preview: r.preview.name,
      production: r.production.name,
      asked: {
        ...(req.version !== undefined && { version: req.version }),
        ...(req.release !== undefined && { release: req.release })
      },
      version: prepared.release.version,
      previousVersion: prodState.live,
      phase: 'syncing',
      startedAt: now,
      updatedAt: now,
      productionWasFrozen: (await frozenState(req.productionExec, r.production)).frozen,
      previewUrl: r.preview.url,
      productionUrl: r.production.url,
      history: []
    }
    if (!fresh.asked.version && !fresh.asked.release) fresh.asked.version = prepared.release.version
    record = await moveAttempt(fresh, 'syncing', sitesOf(req, r), runUrl())
    req.reporter.info(
      `attempt ${record.id}: ${record.version} on site ${r.preview.name}, production ${r.production.name} (${record.previousVersion ?? 'nothing'} live)`
    )
  }
  const c: StartContext = { req, r, record, sites: sitesOf(req, r), run: runUrl(), notes: [] }
  try {
    const steps = await runPipeline(startSteps(), c, req.reporter)
    return outcomeOf(c.record, steps, c.notes)
  } catch (e) {
    if (e instanceof PipelineError) {
      throw new AttemptFailed(
        `attempt ${c.record.id} stopped at '${e.failedStep}': ${failureCause(e)}. The attempt stays ${c.record.phase}: run attempt start again to resume, or attempt cancel`,
        outcomeOf(c.record, e.reports, c.notes),
        e.failedStep
      )
    }
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// promote and cancel: both sites' locks, production's first

/** Run `body` holding production's lock, then the preview's. */
async function withBothLocks<T extends { status: string; journal?: Record<string, unknown> }>(
  req: AttemptRequest,
  r: Resolved,
  op: string,
  start: Record<string, unknown>,
  body: (prod: OperationContext, prev: OperationContext) => Promise<T>
): Promise<T> {
  return withSiteOperation(
    {
      op,
      config: req.config,
      site: r.production,
      exec: req.productionExec,
      reporter: req.reporter,
      lockWait: req.lockWait
    },
    start,
    prod =>
      withSiteOperation(
        {
          op,
          config: req.config,
          site: r.preview,
          exec: req.previewExec,
          reporter: req.reporter,
          lockWait: req.lockWait
        },
        start,
        prev => body(prod, prev)
      )
  )
}

interface SwapContext {
  req: AttemptRequest
  r: Resolved
  record: AttemptRecord
  sites: { production: AttemptSite; preview: AttemptSite }
  run: string
  python: string
  notes: string[]
  /** The vhosts' text before the swap, to put back. */
  vhostsBefore?: { production?: string; preview?: string }
  reloaded: boolean
  /** The sites as they are after the promote. */
  newProduction: SiteConfig
  oldSite: SiteConfig
  keepOldSeconds: number
}

function vhostPath(site: SiteConfig): string {
  return `${site.apache.confDir}/${vhostFileName(site)}`
}

/** Write a vhost aside and rename it over. */
async function writeVhost(exec: Executor, path: string, text: string): Promise<void> {
  await exec.writeFile(`${path}.tmp`, text, 0o644)
  await exec.run({ argv: ['mv', '-T', `${path}.tmp`, path] })
}

/** Both sites' vhosts and identity records back as they were before the promote, then a reload. */
async function putBack(c: SwapContext): Promise<void> {
  const before = c.record.before!
  const { production, preview } = c.sites
  const prodSite = withAddress(
    c.r.configProduction,
    before.production.address,
    before.production.role
  )
  const prevSite = withAddress(c.r.configPreview, before.preview.address, before.preview.role)
  await writeVhost(
    production.exec,
    vhostPath(prodSite),
    c.vhostsBefore?.production ?? renderVhost(prodSite)
  )
  await writeVhost(
    preview.exec,
    vhostPath(prevSite),
    c.vhostsBefore?.preview ?? renderVhost(prevSite)
  )
  await writeIdentity(production.exec, prodSite, before.production.identity, c.python)
  await writeIdentity(preview.exec, prevSite, before.preview.identity, c.python)
  await reloadApache(production.exec, [prodSite, prevSite], c.python)
}

function promoteSteps(): Step<SwapContext>[] {
  return [
    {
      name: 'check-preview',
      title: 'the preview serves the attempted release and answers its health check',
      run: async c => {
        const exec = c.req.previewExec
        const state = await readSiteState(exec, c.r.preview, c.python)
        if (c.record.version && state.live !== c.record.version)
          throw new SitecycleError(
            `site ${c.r.preview.name} serves ${state.live ?? 'nothing'}, not ${c.record.version} of attempt ${c.record.id}: deploy it again (attempt start) or cancel`,
            'site'
          )
        // A resumed promote may have moved the preview's address already: verify-production checks it.
        if (c.record.phase !== 'promoting') {
          const probe = await probeHealth(exec, c.r.preview, c.python, {
            version: c.record.version,
            successes: 1
          })
          if (!probe.ok)
            throw new SitecycleError(
              describeProbe(probe, `site ${c.r.preview.name}`, c.record.version),
              'site'
            )
        }
        return `${state.live} live on ${c.r.preview.name}`
      }
    },
    {
      name: 'freeze-preview',
      title: 'freeze the preview: its users wait on the maintenance page while it moves',
      run: async c => {
        await freeze(c.req.previewExec, c.r.preview, c.python, {
          message: `Version ${c.record.version} is becoming the production site. Back in a minute at ${c.r.production.url}.`,
          link: { url: c.r.production.url },
          retryAfter: 30
        })
      },
      undo: async c => {
        await unfreeze(c.req.previewExec, c.r.preview)
      }
    },
    {
      name: 'record-promoting',
      title: 'record in both sites that the promote began, with both addresses before it',
      run: async c => {
        if (c.record.phase === 'promoting') return 'resumed'
        c.record = await moveAttempt(c.record, 'promoting', c.sites, c.run, {
          before: {
            production: {
              role: c.r.production.role,
              address: addressOf(c.r.production),
              ...(c.r.identities.production && { identity: c.r.identities.production })
            },
            preview: {
              role: c.r.preview.role,
              address: addressOf(c.r.preview),
              ...(c.r.identities.preview && { identity: c.r.identities.preview })
            }
          }
        })
        return 'recorded'
      }
    },
    {
      name: 'swap-vhosts',
      title:
        "rewrite both vhosts: the preview takes production's address, the old production the preview's",
      run: async c => {
        const { production, preview } = c.sites
        c.vhostsBefore = {
          production: await production.exec.readFile(vhostPath(c.oldSite)),
          preview: await preview.exec.readFile(vhostPath(c.newProduction))
        }
        // The old site takes the preview's access: its password file must be there first.
        const creds = readAccessCredentials(c.oldSite, c.req.env ?? process.env)
        if (creds) await writePasswordFile(production.exec, c.oldSite, creds, c.python)
        await writeVhost(production.exec, vhostPath(c.oldSite), renderVhost(c.oldSite))
        await writeVhost(preview.exec, vhostPath(c.newProduction), renderVhost(c.newProduction))
        const before = c.record.before!
        const removeAfter = new Date(Date.now() + c.keepOldSeconds * 1000)
        await writeIdentity(
          production.exec,
          c.oldSite,
          newIdentity(
            c.r.configProduction,
            'old',
            before.preview.address,
            c.record.id,
            removeAfter
          ),
          c.python
        )
        await writeIdentity(
          preview.exec,
          c.newProduction,
          newIdentity(c.r.configPreview, 'production', before.production.address, c.record.id),
          c.python
        )
        return `${c.newProduction.name} → ${c.newProduction.url}, ${c.oldSite.name} → ${c.oldSite.url}`
      },
      undo: async c => {
        await putBack(c)
      }
    },
    {
      name: 'configtest',
      title: 'apachectl configtest',
      run: async c => {
        const t = await c.req.previewExec.tryRun(apacheConfigTest(c.newProduction))
        if (t.code !== 0)
          throw new SitecycleError(
            `apachectl configtest fails with the swapped vhosts: ${(t.stderr || t.stdout).trim()}`,
            'apache'
          )
      }
    },
    {
      name: 'reload',
      title: 'apachectl graceful (both sites are frozen), then wait for new daemon processes',
      run: async c => {
        c.reloaded = true
        await reloadApache(c.req.previewExec, [c.newProduction, c.oldSite], c.python)
      }
    },
    {
      name: 'verify-production',
      title: "verify the new production over HTTP at production's address",
      run: async c => {
        const probe = await probeHealth(c.req.previewExec, c.newProduction, c.python, {
          version: c.record.version
        })
        if (!probe.ok)
          throw new SitecycleError(
            describeProbe(
              probe,
              `site ${c.newProduction.name} at ${c.newProduction.url}`,
              c.record.version
            ),
            'attempt'
          )
        return `${c.record.version} answers at ${c.newProduction.url}`
      }
    },
    {
      name: 'open-production',
      title: 'unfreeze the new production: users reach it',
      run: async c => {
        await unfreeze(c.req.previewExec, c.newProduction)
      }
    },
    {
      name: 'move-mirrors',
      title: 'the mirrors of the old production follow the new one from now on',
      critical: false,
      run: async c => {
        const moved = await moveMirrors(
          c.req.previewExec,
          c.req.config,
          c.r.configProduction.name,
          c.r.configPreview.name,
          c.record.id
        )
        // The config loader checked each lag against the old production's retention only.
        const horizon = retentionHorizonSeconds(retentionOf(c.r.configPreview))
        for (const name of moved) {
          const lag = c.req.config.sites[name].lag!
          if (lag.seconds > horizon)
            c.notes.push(
              `mirror ${name} (lag ${lag.text}) now follows ${c.r.configPreview.name}, whose retention (sites.${c.r.configPreview.name}.snapshots) keeps none surely older than ${formatDuration(horizon)}: raise it in ${c.req.config.file}`
            )
        }
        return moved.length ? `${moved.join(', ')} follow ${c.newProduction.name}` : 'no mirror'
      }
    },
    {
      name: 'close-window',
      title: "drop the window's open-access flag (the preview's address has the old site now)",
      critical: false,
      run: async c => closeWindow(c.req.previewExec, c.r.configPreview)
    },
    {
      name: 'retire-old',
      title:
        'the old production stays frozen, its page pointing to production, until it is removed',
      critical: false,
      run: async c => {
        await freeze(c.req.productionExec, c.oldSite, c.python, {
          message: `This copy of the site was replaced by version ${c.record.version} on ${new Date().toISOString().slice(0, 10)}. It is kept read-only for a while, then removed.`,
          link: { url: c.newProduction.url }
        })
        return `${c.oldSite.name} is old, frozen; removable after ${new Date(Date.now() + c.keepOldSeconds * 1000).toISOString()}`
      }
    }
  ]
}

function checkSameApache(r: Resolved, req: AttemptRequest): void {
  if (
    hostLabel(r.production.host) !== hostLabel(r.preview.host) ||
    req.productionExec.name !== req.previewExec.name
  )
    throw new SitecycleError(
      `a promote gives site ${r.preview.name} the address of site ${r.production.name} on one Apache, but they are on different hosts (${hostLabel(r.production.host)}, ${hostLabel(r.preview.host)}): point production's DNS name at ${hostLabel(r.preview.host)} instead`,
      'config'
    )
}

/**
 * Promote the preview of an open attempt to production (see the module comment), or finish a
 * promote that was interrupted. On a failure before users reach the new production, both vhosts
 * and identity records are put back, the preview is unfrozen, and the attempt is open again.
 */
export async function promoteAttempt(req: PromoteRequest): Promise<AttemptOutcome> {
  const r = await resolveSites(req)
  const record = r.record
  if (!record || (record.phase !== 'open' && record.phase !== 'promoting'))
    throw new SitecycleError(
      record
        ? `attempt ${record.id} on site ${record.preview} is ${record.phase}: only an open attempt (its window reached) can be promoted${phaseAfter('open', record.phase) ? ': run attempt start to finish starting it' : ''}`
        : `site ${req.preview.name} has no upgrade attempt: start one with sitecycle attempt start ${req.preview.name}`,
      'site'
    )
  checkSameApache(r, req)
  const keepOldSeconds = req.keepOldSeconds ?? DEFAULT_KEEP_OLD_SECONDS
  const before = record.before
  // Resumed: the addresses recorded when the promote began, not the half-swapped ones.
  const prodAddress = before?.production.address ?? addressOf(r.production)
  const prevAddress = before?.preview.address ?? addressOf(r.preview)
  const newProduction = withAddress(r.configPreview, prodAddress, 'production')
  const oldSite = withAddress(r.configProduction, prevAddress, 'old')
  // The old site takes the preview's access: its password must be at hand before anything changes.
  readAccessCredentials(oldSite, req.env ?? process.env)
  const python = req.config.app.python
  const steps: StepReport[] = []
  const c: SwapContext = {
    req,
    r: {
      ...r,
      // Under the lock, operations name the sites as they were before the promote.
      production: withAddress(
        r.configProduction,
        prodAddress,
        before?.production.role ?? r.production.role
      ),
      preview: withAddress(r.configPreview, prevAddress, before?.preview.role ?? r.preview.role)
    },
    record,
    sites: sitesOf(req, r),
    run: runUrl(),
    python,
    notes: [],
    reloaded: false,
    newProduction,
    oldSite,
    keepOldSeconds
  }
  try {
    await withBothLocks(
      req,
      c.r,
      'promote',
      { attempt: record.id, version: record.version },
      async () => {
        try {
          steps.push(...(await runPipeline(promoteSteps(), c, req.reporter)))
        } catch (e) {
          if (e instanceof PipelineError) {
            steps.push(...e.reports)
            if (
              c.record.phase === 'promoting' &&
              e.reports.some(s => s.status === 'undone' && s.name === 'swap-vhosts')
            )
              c.record = await moveAttempt(
                c.record,
                'open',
                c.sites,
                c.run,
                {},
                { promoteFailed: e.failedStep }
              )
          }
          throw e
        }
        c.record = await moveAttempt(c.record, 'promoted', c.sites, c.run, {
          removeAfter: new Date(Date.now() + keepOldSeconds * 1000).toISOString()
        })
        return { status: 'promoted', journal: { attempt: record.id, version: record.version } }
      }
    )
  } catch (e) {
    if (e instanceof PipelineError) {
      throw new AttemptFailed(
        `promote of attempt ${record.id} failed at '${e.failedStep}': ${failureCause(e)}. ` +
          (c.record.phase === 'open'
            ? `Both sites are as before the promote (production frozen, the window open): promote again or cancel`
            : `Run attempt promote again to finish it`),
        outcomeOf(c.record, steps, c.notes),
        e.failedStep
      )
    }
    throw e
  }
  req.reporter.info(
    `site ${newProduction.name} is production at ${newProduction.url} with ${record.version}; site ${oldSite.name} is old (at ${oldSite.url}, frozen) until ${c.record.removeAfter}`
  )
  return outcomeOf(c.record, steps, c.notes)
}

/**
 * Cancel an attempt at any phase before it was promoted: put back a promote that was interrupted,
 * then unfreeze production (unless it was frozen before the attempt). The preview is left as it
 * is for inspection.
 */
export async function cancelAttempt(req: AttemptRequest): Promise<AttemptOutcome> {
  const r = await resolveSites(req)
  const record = r.record
  if (!record || attemptFinished(record.phase))
    throw new SitecycleError(
      record
        ? `attempt ${record.id} on site ${record.preview} is already ${record.phase}: nothing to cancel`
        : `site ${req.preview.name} has no upgrade attempt to cancel`,
      'site'
    )
  const before = record.before
  const production = before
    ? withAddress(r.configProduction, before.production.address, before.production.role)
    : r.production
  const preview = before
    ? withAddress(r.configPreview, before.preview.address, before.preview.role)
    : r.preview
  const c: SwapContext = {
    req,
    r: { ...r, production, preview },
    record,
    sites: sitesOf(req, r),
    run: runUrl(),
    python: req.config.app.python,
    notes: [],
    reloaded: false,
    newProduction: preview,
    oldSite: production,
    keepOldSeconds: 0
  }
  const steps: Step<SwapContext>[] = [
    {
      name: 'put-back',
      title: 'put back the vhosts and roles of an interrupted promote',
      when: x => x.record.phase === 'promoting',
      run: async x => {
        await putBack(x)
        await unfreeze(x.req.previewExec, x.r.preview)
        return 'both sites have their addresses from before the promote'
      }
    },
    {
      name: 'unfreeze-production',
      title: 'unfreeze production: users reach it again, with everything as before the attempt',
      run: async x => {
        if (x.record.productionWasFrozen) return `left frozen: it was frozen before the attempt`
        await unfreeze(x.req.productionExec, x.r.production)
        return `${x.r.production.name} is open`
      }
    },
    {
      name: 'close-window',
      title: "restore the preview's basic auth (the window is over)",
      run: async x => closeWindow(x.req.previewExec, x.r.preview)
    }
  ]
  let reports: StepReport[] = []
  await withBothLocks(req, c.r, 'attempt-cancel', { attempt: record.id }, async () => {
    reports = await runPipeline(steps, c, req.reporter)
    c.record = await moveAttempt(c.record, 'cancelled', c.sites, c.run, {}, { from: record.phase })
    return { status: 'cancelled', journal: { attempt: record.id } }
  })
  req.reporter.info(
    `attempt ${record.id} cancelled: site ${production.name} goes on; site ${preview.name} is left as it was for inspection`
  )
  return outcomeOf(c.record, reports, c.notes)
}

/** The attempt recorded on the preview and its production (read only). */
export async function attemptStatus(req: AttemptRequest): Promise<AttemptRecord | undefined> {
  return (await resolveSites(req)).record
}

/** One-line description of an outcome. */
export function describeAttempt(o: AttemptOutcome): string {
  switch (o.phase) {
    case 'open':
      return `attempt ${o.attempt}: ${o.version} is on ${o.previewUrl}; production ${o.production} is frozen until promote or cancel`
    case 'promoted':
      return `attempt ${o.attempt} promoted: ${o.version} is production (site ${o.preview}) at ${o.productionUrl}`
    case 'cancelled':
      return `attempt ${o.attempt} cancelled: site ${o.production} goes on with ${o.previousVersion ?? 'its release'}`
    default:
      return `attempt ${o.attempt} is ${o.phase}`
  }
}
