/**
 * `sitecycle sync <preview>`: production data into a preview (or any site with `from:`). Holding
 * the PREVIEW's lock: snapshot the source site (takeSnapshot, under the source's own lock: the
 * source is only read) or take its newest snapshot (--use-latest) → make the snapshot reachable
 * on the preview's host (hard links on the same host, so retention cannot remove it meanwhile; a
 * tar copy through this machine between hosts) → the shared steps of restore.ts: check the dump,
 * freeze the preview, restore its database (its own name) and data folders, run the anonymising
 * script (`anonymize:`), the preview's own after_install hooks in its LIVE release (its code may
 * be newer: migrations run on the copied data), restart the live daemon group, verify over HTTP,
 * unfreeze. Both journals record the sync.
 *
 * The copy is restored, checked and anonymised in a scratch database, and its folders staged in
 * hidden siblings, before anything of the preview changes; then one step swaps them in (restore.ts,
 * data-swap.ts). When the source is on the same host and a new snapshot is taken, the scratch
 * copy is restored from that snapshot's plain dump while the snapshot compresses it (hard links
 * in the work directory; restore.ts stageFromPlainDump), not decompressed from it afterwards,
 * and checked against the dump's checksums and anonymised there too, while the snapshot is
 * stored; stage-database compares it with the snapshot's manifest all the same. A failure, or a kill (SIGKILL) at any point followed by any other operation,
 * leaves the preview with its previous data (or none) or with the complete anonymised copy: never
 * raw production data. The source is never written.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cmd } from '../commands/command.js'
import { makeDirs, removeTree } from '../commands/files.js'
import { hostLabel } from '../config/host-spec.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { DatabaseConfig, DatabaseEngine, TableChecksum } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import { Journal, type JournalOperation } from '../sites/journal.js'
import { attemptFinished, readAttempt } from '../sites/attempt-record.js'
import { identityPath, siteAsOnHost } from '../sites/identity.js'
import { siteLayout } from '../sites/layout.js'
import { readSiteState } from '../sites/site-state.js'
import { describeBytes } from '../snapshots/list.js'
import { requireBase } from '../snapshots/dump-store.js'
import { DUMP_NAME, snapshotPaths } from '../snapshots/manifest.js'
import { takeSnapshot } from '../snapshots/snapshot.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation } from './operation.js'
import { describePlan, type Step } from './pipeline.js'
import {
  applySteps,
  checkDatabaseSecret,
  dropScratch,
  frozenBeforeRun,
  interruptedRuns,
  newApplyContext,
  newestSnapshotId,
  outcomeOf,
  requireManifest,
  runApply,
  stageFromPlainDump,
  type ApplyContext,
  type DataOutcome
} from './restore.js'

export interface SyncRequest {
  config: SitecycleConfig
  /** The site synced into (a preview). */
  site: SiteConfig
  /** An executor on its host. */
  exec: Executor
  reporter: Reporter
  /** The site the data comes from (default: the site's `from:`). */
  source?: SiteConfig
  /** An executor on the source's host (default: `exec` when the hosts are the same, else a new one, closed at the end). */
  sourceExec?: Executor
  /** Take the source's newest complete snapshot instead of a new one. */
  useLatest?: boolean
  /** Take this snapshot of the source instead of a new one. */
  snapshot?: string
  /** Seconds to wait for each lock (the preview's, then the source's for its snapshot). */
  lockWait?: number
  /** The engine registry (tests may pass their own). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
  /** How often a long copy reports its progress, in ms (passed to the snapshot). */
  progressIntervalMs?: number
  /** The upgrade attempt this sync is a phase of (the only one allowed to sync its preview). */
  attempt?: string
}

interface SyncContext extends ApplyContext {
  req: SyncRequest
  sourceSite: SiteConfig
  sourceExec: Executor
}

/** The source of a sync: the request's, or the site's `from:`; a config error when there is none. */
export function syncSource(config: SitecycleConfig, site: SiteConfig): SiteConfig {
  if (!site.from)
    throw new SitecycleError(
      `site ${site.name} has no data source: set sites.${site.name}.from to the site its data comes from (such as the production site) in ${config.file}`,
      'config'
    )
  const source = Object.hasOwn(config.sites, site.from) ? config.sites[site.from] : undefined
  if (!source || source.name === site.name)
    throw new SitecycleError(
      `sites.${site.name}.from is ${site.from}, which is not another site of ${config.file}`,
      'config'
    )
  return source
}

/**
 * After an upgrade attempt's promote, the hosts know better than sitecycle.yml (sites/identity.ts):
 * a former preview is production now, and its `from:` the old production. Syncing would then
 * overwrite production's data with old data: refused, naming the roles, before anything changes.
 */
async function refuseAfterPromote(
  site: SiteConfig,
  exec: Executor,
  source: SiteConfig,
  sourceExec: Executor,
  forAttempt: string | undefined
): Promise<void> {
  const target = await siteAsOnHost(exec, site)
  if (target.role === 'production' && site.role !== 'production')
    throw new SitecycleError(
      `site ${site.name} was promoted to production (its host says so in ${identityPath(site)}): a sync would overwrite production's data with a copy of site ${source.name}. Update sitecycle.yml to the new roles`,
      'site'
    )
  const attempt = await readAttempt(exec, site)
  if (
    attempt &&
    attempt.preview === site.name &&
    !attemptFinished(attempt.phase) &&
    attempt.id !== forAttempt
  )
    throw new SitecycleError(
      `site ${site.name} is the preview of upgrade attempt ${attempt.id} (${attempt.phase}): a sync would overwrite what users do there during the window. Promote or cancel the attempt first (sitecycle attempt promote|cancel ${site.name})`,
      'site'
    )
  const from = await siteAsOnHost(sourceExec, source)
  if (from.role === 'old' && source.role !== 'old')
    throw new SitecycleError(
      `site ${source.name} was replaced by a promote and is old now (its host says so in ${identityPath(source)}): site ${site.name} would get stale data. Update sites.${site.name}.from in sitecycle.yml`,
      'site'
    )
}

/** Everything checked before any host is touched. */
function checkSync(req: SyncRequest, source: SiteConfig): void {
  const { site } = req
  if (
    source.name === site.name ||
    (source.root === site.root && hostLabel(source.host) === hostLabel(site.host))
  )
    throw new SitecycleError(`site ${site.name} cannot be synced from itself`, 'config')
  if (source.database && !site.database)
    throw new SitecycleError(
      `site ${source.name} has a ${source.database.engine} database, but site ${site.name} has none to receive it: add sites.${site.name}.database (its own name)`,
      'config'
    )
  if (source.database && site.database) {
    if (source.database.engine !== site.database.engine)
      throw new SitecycleError(
        `site ${source.name} uses ${source.database.engine} and site ${site.name} ${site.database.engine}: a sync copies into the same engine only`,
        'config'
      )
    const sameServer =
      source.database.host === site.database.host &&
      source.database.port === site.database.port &&
      hostLabel(source.host) === hostLabel(site.host)
    if (sameServer && source.database.name === site.database.name)
      throw new SitecycleError(
        `sites.${site.name}.database.name is ${site.database.name}, the database of site ${source.name} itself: give site ${site.name} a database of its own`,
        'config'
      )
    ;(req.engines ?? getEngine)(site.database.engine)
  }
  if (site.anonymize && !site.database)
    throw new SitecycleError(
      `sites.${site.name}.anonymize is set but site ${site.name} has no database to run it on`,
      'config'
    )
}

/** Steps before the shared ones: the source's snapshot, made reachable on the target host. */
function sourceSteps(): Step<SyncContext>[] {
  return [
    {
      name: 'snapshot-source',
      title:
        'snapshot the source site (under its own lock; it is only read), or take its newest snapshot',
      run: async c => {
        const { req } = c
        let id = req.snapshot
        let how = 'given'
        if (id === undefined && req.useLatest) {
          id = await newestSnapshotId(c.sourceExec, c.sourceSite, c.python)
          how = 'newest'
        }
        if (id === undefined) {
          try {
            const snap = await takeSnapshot({
              config: c.config,
              site: c.sourceSite,
              exec: c.sourceExec,
              reporter: c.reporter,
              lockWait: req.lockWait,
              progressIntervalMs: req.progressIntervalMs,
              onPlainDump: (plain, tables) => startFromPlainDump(c, plain, tables)
            })
            id = snap.id
            how = 'new'
            // The scratch copy is restored, checked and anonymised by the end of this step: a
            // kill after it leaves nothing running, only a scratch database the next operation
            // drops.
            if (c.stagedEarly) await c.stagedEarly
          } catch (e) {
            await dropScratch(c)
            throw e
          }
        }
        c.manifest = await requireManifest(c.sourceExec, c.sourceSite, id)
        c.source = { site: c.sourceSite, exec: c.sourceExec, id }
        return `${how} snapshot ${id} of site ${c.sourceSite.name}`
      },
      // The scratch copy restored from the plain dump, when a later step fails before
      // stage-database owns it.
      undo: dropScratch
    },
    {
      name: 'fetch-snapshot',
      title:
        "make the snapshot reachable on this site's host (hard links, or a copy between hosts)",
      run: async c => {
        const id = c.source!.id
        const original = snapshotPaths(siteLayout(c.sourceSite.root).snapshots, id).dir
        const local = `${c.work}/${id}`
        // A dump stored as deltas needs its base beside it (dump-store.ts): it comes along.
        const baseId = c.manifest?.database?.store?.base
        const base = baseId ? await requireBase(c.sourceExec, original, c.manifest!) : undefined
        if (c.sourceExec.name === c.exec.name) {
          const linked = await c.exec.tryRun(cmd(['cp', '-al', '--', original, local]))
          const baseLinked =
            base && linked.code === 0
              ? await c.exec.tryRun(cmd(['cp', '-al', '--', base, `${c.work}/${baseId}`]))
              : linked
          if (linked.code === 0 && baseLinked.code === 0) {
            c.snapshotDir = local
            return `hard-linked ${original}${base ? ` and its base ${base}` : ''}`
          }
          await c.exec.tryRun(removeTree(local, `${c.work}/${baseId ?? id}`))
          c.snapshotDir = original
          const why = (linked.code === 0 ? baseLinked : linked).stderr.trim().split('\n').pop()
          return `read in place (${why ?? 'no hard links'})`
        }
        c.snapshotDir = await copyBetweenHosts(
          c,
          original,
          id,
          base ? { dir: base, id: baseId! } : undefined
        )
        return `copied from ${c.sourceExec.name}`
      }
    }
  ]
}

/**
 * The source's snapshot is taken on the preview's own host: hard-link its plain dump into the
 * work directory and restore the scratch copy from it while the snapshot compresses it
 * (restore.ts stageFromPlainDump). Where the links cannot be made (other filesystems, or no
 * database to stage), nothing starts: stage-database restores from the snapshot as usual.
 */
async function startFromPlainDump(
  c: SyncContext,
  plain: string,
  tables: readonly TableChecksum[]
): Promise<void> {
  if (c.sourceExec.name !== c.exec.name || !c.site.database || c.stagedEarly) return
  const linkDir = `${c.work}/plain`
  const linked = `${linkDir}/${plain.slice(plain.lastIndexOf('/') + 1)}`
  await c.exec.run(makeDirs([linkDir], '700'))
  const r = await c.exec.tryRun(cmd(['cp', '-al', '--', plain, linked]))
  if (r.code !== 0) {
    await c.exec.tryRun(removeTree(linkDir)).catch(() => undefined)
    c.reporter.info(
      `   the plain dump could not be linked (${r.stderr.trim().split('\n').pop() || `exit code ${r.code}`}): the copy is restored from the snapshot`
    )
    return
  }
  stageFromPlainDump(c, linked, linkDir, tables)
}

/** tar the snapshot on the source host, carry it through this machine, untar it under the work dir. */
async function copyBetweenHosts(
  c: SyncContext,
  original: string,
  id: string,
  base?: { dir: string; id: string }
): Promise<string> {
  const parent = original.slice(0, original.lastIndexOf('/'))
  const remoteTmp = (
    await c.sourceExec.run(cmd(['mktemp', '-d', '-t', 'sitecycle-sync.XXXXXXXX']))
  ).stdout.trim()
  const here = await mkdtemp(join(tmpdir(), 'sitecycle-sync-'))
  try {
    const tar = `${remoteTmp}/${id}.tar`
    // The base's dump and manifest only, under its id (its data folders are not needed).
    const baseArgs = base
      ? [
          '--transform',
          `s|^${base.dir.slice(parent.length + 1)}/|${base.id}/|`,
          '--',
          `${base.dir.slice(parent.length + 1)}/manifest.json`,
          // The base's dump, whatever the delta's is called (dump-store.ts: always this name).
          `${base.dir.slice(parent.length + 1)}/${DUMP_NAME}`
        ]
      : ['--']
    await c.sourceExec.run(
      cmd(['tar', '--numeric-owner', '-C', parent, '-cf', tar, ...baseArgs, id])
    )
    const size = Number((await c.sourceExec.run(cmd(['stat', '-c', '%s', tar]))).stdout.trim())
    c.reporter.info(
      `   carrying snapshot ${id} (${describeBytes(size)}) from ${c.sourceExec.name} to ${c.exec.name}`
    )
    await c.sourceExec.get(tar, join(here, 'snapshot.tar'))
    const onTarget = `${c.work}/${id}.tar`
    await c.exec.put(join(here, 'snapshot.tar'), onTarget, 0o600)
    await c.exec.run(cmd(['tar', '--numeric-owner', '-C', c.work, '-xf', onTarget]))
    await c.exec.run(removeTree(onTarget))
    return `${c.work}/${id}`
  } finally {
    await rm(here, { recursive: true, force: true })
    await c.sourceExec.tryRun(removeTree(remoteTmp)).catch(() => undefined)
  }
}

/** The steps of a sync, in order. */
export function syncSteps(): Step<ApplyContext>[] {
  return [...(sourceSteps() as unknown as Step<ApplyContext>[]), ...applySteps()]
}

/** The plan of a sync, one line per step (for --dry-run). */
export function syncPlan(): string[] {
  return describePlan(syncSteps())
}

/** The source site's journal gets one finished operation saying where its data went. */
async function recordAtSource(c: SyncContext, outcome: DataOutcome): Promise<void> {
  const journal = new Journal(c.sourceExec, siteLayout(c.sourceSite.root).journal)
  const base = { id: c.opId, op: 'sync-out' }
  await journal.append({
    ...base,
    event: 'start',
    site: c.sourceSite.name,
    to: c.site.name,
    toHost: c.exec.name,
    snapshot: outcome.snapshot,
    actor: c.holder.actor,
    run: c.holder.run
  })
  await journal.append({
    ...base,
    event: 'end',
    status: 'synced',
    to: c.site.name,
    snapshot: outcome.snapshot
  })
}

/**
 * Sync a site from its source (see the module comment). Throws SitecycleError on bad input
 * (nothing touched) and DataOperationFailed when a step failed (the site then holds its previous
 * data, or stays frozen with the run open when even that could not be put back).
 */
export async function syncSite(req: SyncRequest): Promise<DataOutcome> {
  const { site, exec, reporter } = req
  const source = req.source ?? syncSource(req.config, site)
  checkSync(req, source)
  checkDatabaseSecret(site, reporter)
  checkDatabaseSecret(source, reporter)
  if (site.anonymize) {
    await access(site.anonymize).catch(() => {
      throw new SitecycleError(
        `sites.${site.name}.anonymize names ${site.anonymize}, which cannot be read on this machine`,
        'config'
      )
    })
  }
  const ownSourceExec = !req.sourceExec && hostLabel(source.host) !== hostLabel(site.host)
  const sourceExec =
    req.sourceExec ?? (ownSourceExec ? createExecutor(source.host, req.config.ssh) : exec)
  let resumed: JournalOperation[] = []
  let frozenBefore = false
  try {
    await refuseAfterPromote(site, exec, source, sourceExec, req.attempt)
    const result = await withSiteOperation(
      { op: 'sync', config: req.config, site, exec, reporter, lockWait: req.lockWait },
      async octx => {
        resumed = await interruptedRuns(octx.journal, ['sync', 'restore'], octx.opId)
        frozenBefore = await frozenBeforeRun(octx)
        if (resumed.length)
          reporter.info(
            `completing the interrupted ${resumed.map(o => `${o.op} ${o.id}`).join(', ')} with a full sync`
          )
        return {
          from: source.name,
          fromHost: sourceExec.name,
          frozenBefore,
          ...(req.snapshot !== undefined && { snapshot: req.snapshot }),
          ...(resumed.length && { resumes: resumed.map(o => o.id) })
        }
      },
      async octx => {
        const state = await readSiteState(exec, site, octx.python)
        const base = newApplyContext(
          'sync',
          octx,
          state,
          frozenBefore,
          resumed.map(o => o.id),
          req.engines
        )
        const c: SyncContext = { ...base, req, sourceSite: source, sourceExec }
        const steps = await runApply(c, syncSteps(), (ctx, step) =>
          step === 'snapshot-source' && ctx.source ? { snapshot: ctx.source.id } : {}
        )
        const outcome = outcomeOf(c, steps)
        await recordAtSource(c, outcome).catch(e =>
          reporter.warn(
            `could not record the sync in the journal of site ${source.name}: ${e instanceof Error ? e.message : e}`
          )
        )
        return {
          ...outcome,
          journal: { from: source.name, snapshot: outcome.snapshot, anonymized: outcome.anonymized }
        }
      }
    )
    const { journal: _j, ...outcome } = result as DataOutcome & { journal?: unknown }
    return outcome
  } finally {
    if (ownSourceExec) await sourceExec.close().catch(() => undefined)
  }
}
