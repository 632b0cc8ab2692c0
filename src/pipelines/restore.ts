/**
 * `sitecycle restore`: a snapshot put back into a site. Holding the site lock: choose the
 * snapshot → check its dump against the manifest's sha256 → restore the dump into a scratch
 * database beside the site's own (its tables' checksums must equal the snapshot's) → copy the
 * data folders and shared files into hidden siblings → freeze (the maintenance page) → swap the database and the
 * folders in at one step, the previous ones kept under other names (data-swap.ts) → run the hooks
 * in the live release when the snapshot was taken under another release → restart the live
 * daemon group → verify over HTTP (the health path passes the maintenance page) → unfreeze →
 * drop what was kept for the way back.
 *
 * Any failure runs the undos in reverse: the previous database and folders swapped back, the
 * staged copies dropped, the site unfrozen. A run killed with SIGKILL at any point is finished or
 * undone whole by the next operation of any kind (data-recovery.ts): the database and the data
 * folders (and shared files) are always all the snapshot's or all as before.
 *
 * The steps here are shared with sync (sync.ts), which adds taking the source's snapshot, copying
 * it between hosts and the anonymising script.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { makeDirs, removeTree } from '../commands/files.js'
import { anonymizeAndCheck, scriptFailed, sourceHashesPlan, type KeptValues } from './anonymize.js'
import { restoreWhileHeld } from './frozen-deploy.js'
import {
  finishData,
  folderSiblings,
  rollBackData,
  stagedIdentity,
  swapInData,
  swapParts,
  databaseSwapNames,
  databasePlan,
  type FolderSwapPlan,
  type SwapIntent,
  type SwapParts
} from './data-swap.js'
import { databasePassword } from '../databases/connection.js'
import type { DatabaseConfig, DatabaseEngine, TableChecksum } from '../databases/engine.js'
import { getEngine, withStatistics } from '../databases/registry.js'
import type { Executor } from '../hosts/executor.js'
import { describeHookCount, runAfterInstallHooks } from '../sites/hooks.js'
import { Journal, type JournalOperation } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import { freeze, frozenState, unfreeze } from '../sites/maintenance.js'
import {
  describeProbe,
  probeHealth,
  readSiteState,
  restartSlotGroup,
  type SiteState
} from '../sites/site-state.js'
import { rsyncFileTo, rsyncFolder, snapshotFolderName } from '../snapshots/files.js'
import { isDataFile, ownStagedShared } from '../sites/shared-links.js'
import { listSnapshotIds, readManifest } from '../snapshots/list.js'
import { checkSnapshotDump } from '../snapshots/check-dump.js'
import { withMaterializedDump } from '../snapshots/dump-store.js'
import { FILES_DIR, snapshotPaths, type SnapshotManifest } from '../snapshots/manifest.js'
import { compareTables, expectedTables } from '../snapshots/verify.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation, type OperationContext } from './operation.js'
import { failureCause } from './outcome.js'
import { PipelineError, describePlan, runPipeline, type Step, type StepReport } from './pipeline.js'
import { bothSettled } from '../util/settled.js'

/** Where the snapshot being applied lives and what it holds. */
export interface SnapshotSource {
  /** The site the snapshot was taken of (the target itself for a restore). */
  site: SiteConfig
  /** An executor on that site's host. */
  exec: Executor
  /** The snapshot id. */
  id: string
}

/** A data folder (or shared file) of the snapshot and where it goes on the target site. */
export interface FolderPlan {
  /** Its name under the snapshot's files/ (see snapshotFolderName). */
  name: string
  /** A shared entry of kind file: copied as one file. */
  file: boolean
  /** The copy in the snapshot (on the target's host). */
  from: string
  /** The target site's data folder. */
  target: string
}

/** What the shared steps work on; restore and sync fill the first fields differently. */
export interface ApplyContext extends OperationContext {
  op: 'restore' | 'sync'
  /** The snapshot's site and host; set before the apply steps run (sync: by its first step). */
  source?: SnapshotSource
  manifest?: SnapshotManifest
  /** The snapshot directory as seen from the target's host (a copy when the hosts differ). */
  snapshotDir?: string
  /** This run's work directory on the target host (`.sitecycle/incoming/<op id>`). */
  work: string
  state: SiteState
  /** Whether the site was frozen before (this run, or the interrupted one it completes): then it stays frozen. */
  frozenBefore: boolean
  /** The scratch and keep names of the site's database, once the dump is being staged. */
  stagedDatabase?: { scratch: string; keep: string }
  /**
   * A sync on one host restores the scratch copy from the source snapshot's plain dump while the
   * snapshot compresses it, then checks and anonymises it there (stageFromPlainDump). The
   * stage-database and anonymize steps then take what it did, or restore from the snapshot as
   * usual when the copy could not be restored.
   */
  stagedEarly?: Promise<EarlyStage>
  /** The data folders staged beside the site's. */
  stagedFolders: FolderSwapPlan[]
  /** What swap-data swapped in (also in the journal), once it started. */
  intent?: SwapIntent
  /** Putting the previous data back failed: the site stays frozen, the run open in the journal. */
  dataInDoubt: boolean
  /** Checksums of the target's tables after the restore (before any anonymising). */
  tables?: TableChecksum[]
  hooksRun: number
  anonymized: boolean
  /** Interrupted runs this one completes. */
  resumed: string[]
  engines: (name: DatabaseConfig['engine']) => DatabaseEngine
}

/**
 * What was done to the scratch copy restored from a snapshot's plain dump while the snapshot was
 * stored (stageFromPlainDump), each part only when the one before it succeeded.
 */
export interface EarlyStage {
  /** Why the copy could not be restored (stage-database then restores from the snapshot). */
  unusable?: Error
  /** The copy's checksums (compared with the dump's by stage-database), or why they failed. */
  checked?: { tables: TableChecksum[] } | { failure: unknown }
  /**
   * The anonymising script run and checked on the copy (only once its checksums equalled the
   * dump's), or its failure, which the anonymize step reports.
   */
  anonymized?: { note: string } | { failure: unknown }
  /** How long the restore and then the checksums took, for the step's note ("restored 2.1 s"). */
  times?: string[]
}

/** What a restore or sync did. */
export interface DataOutcome {
  op: 'restore' | 'sync'
  status: 'restored' | 'synced'
  site: string
  host: string
  /** The site and host the snapshot came from. */
  source: { site: string; host: string }
  snapshot: string
  /** The database's tables after the copy (before anonymising), equal to the snapshot's. */
  database: { engine: string; name: string; tables: TableChecksum[] } | null
  files: { name: string; target: string }[]
  anonymized: boolean
  hooks: number
  /** The release users get. */
  live: string | null
  /** Whether the site is still frozen (it was frozen before the run). */
  frozen: boolean
  /** Interrupted runs this one recovered and completed. */
  resumed: string[]
  steps: StepReport[]
  operationId: string
}

/** A restore or sync that failed; the message says what state the site is in. */
export class DataOperationFailed extends SitecycleError {
  constructor(
    message: string,
    readonly failedStep: string,
    readonly steps: StepReport[],
    readonly undoComplete: boolean,
    /** The site was left frozen (its data is not what users may see yet). */
    readonly leftFrozen: boolean,
    /** The run stays open in the journal: the next operation finishes putting the data back. */
    readonly leaveOpen = false
  ) {
    super(message, 'data')
    this.name = 'DataOperationFailed'
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (pure)

/**
 * Which of the target site's data folders each folder of the snapshot goes to: the one with the
 * same name relative to its root (`shared/uploads`), else the one at the same position in `data:`;
 * a shared file goes to a shared file entry of the site and a folder to a folder. A snapshot
 * folder or file with no place is an error naming it, before anything is touched. Pure.
 */
export function planFolders(
  manifest: SnapshotManifest,
  snapshotDir: string,
  site: SiteConfig
): FolderPlan[] {
  const data = site.data ?? []
  return manifest.files.folders
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => !f.missing)
    .map(({ f, i }) => {
      const file = f.kind === 'file'
      const fits = (d: string | undefined) =>
        d !== undefined && isDataFile(site, d) === file ? d : undefined
      const byName = data.find(d => snapshotFolderName(site.root, d) === f.name)
      const target =
        fits(byName) ??
        (byName === undefined && data.length === manifest.files.folders.length
          ? fits(data[i])
          : undefined)
      if (target === undefined)
        throw new SitecycleError(
          file
            ? `snapshot ${manifest.id} of site ${manifest.site} holds the shared file ${f.name} (${f.source}), but site ${site.name} has no shared file entry for it: ` +
                `add { path: ${f.name.replace(/^shared\//, '')}, kind: file } to its shared: (or app.shared)`
            : `snapshot ${manifest.id} of site ${manifest.site} holds the data folder ${f.name} (${f.source}), but site ${site.name} has no data folder for it: ` +
                `add it to sites.${site.name}.data (as ${f.name}, or at position ${i + 1})`,
          'config'
        )
      return { name: f.name, file, from: `${snapshotDir}/${FILES_DIR}/${f.name}`, target }
    })
}

// ---------------------------------------------------------------------------------------------
// The shared steps

function databaseOf(c: ApplyContext): DatabaseConfig | undefined {
  return c.site.database && { ...c.site.database, python: c.python }
}

function engineOf(c: ApplyContext): DatabaseEngine {
  return c.engines(c.site.database!.engine)
}

/** Check the snapshot against the target site, before anything there is touched. */
export function checkApplicable(manifest: SnapshotManifest, site: SiteConfig, from: string): void {
  const record = manifest.database
  if (record && !site.database)
    throw new SitecycleError(
      `snapshot ${manifest.id} of ${from} holds a ${record.engine} database, but site ${site.name} has none: add sites.${site.name}.database`,
      'config'
    )
  if (record && site.database && record.engine !== site.database.engine)
    throw new SitecycleError(
      `snapshot ${manifest.id} of ${from} holds a ${record.engine} database, but site ${site.name} uses ${site.database.engine}: a dump restores into the same engine only`,
      'config'
    )
}

function scratchOf(c: ApplyContext): DatabaseConfig {
  return { ...databaseOf(c)!, name: c.stagedDatabase!.scratch }
}

function partsOf(c: ApplyContext): SwapParts {
  return swapParts(c.exec, c.site, c.python, c.reporter, c.engines)
}

function liveSlotOf(c: ApplyContext): 'current' | 'blue' | 'green' {
  return c.site.apache.mode === 'single' ? 'current' : c.state.liveSlot
}

/** Name the scratch database of this run and drop any copy an earlier try left under it. */
async function freshScratch(c: ApplyContext): Promise<DatabaseConfig> {
  const engine = engineOf(c)
  c.stagedDatabase = databaseSwapNames(databaseOf(c)!, engine.nameBytes, c.opId)
  const scratch = scratchOf(c)
  if (await engine.exists(c.exec, scratch)) await engine.drop(c.exec, scratch)
  return scratch
}

/**
 * Restore the scratch copy from `plain`, a plain dump directory of the snapshot being taken
 * (hard links in the run's work directory, removed here), while the snapshot stores its own copy
 * of it: no compression then decompression of the same dump in between. Then, still while the
 * snapshot is stored, take the copy's checksums and, when they equal `expected` (the dump's own,
 * taken in its transaction), run and check the anonymising script and compact the copy
 * ({@link anonymizeCopy}): the sync's critical path then holds none of it. Never throws: what
 * happened goes to {@link ApplyContext.stagedEarly}; stage-database compares the checksums with
 * the snapshot's manifest again, and restores from the snapshot when the copy is unusable.
 */
export function stageFromPlainDump(
  c: ApplyContext,
  plain: string,
  linkDir: string,
  expected: readonly TableChecksum[]
): void {
  c.stagedEarly = (async (): Promise<EarlyStage> => {
    const engine = engineOf(c)
    const times: string[] = []
    let start = Date.now()
    const took = (what: string) => {
      times.push(`${what} ${((Date.now() - start) / 1000).toFixed(1)} s`)
      start = Date.now()
    }
    let scratch: DatabaseConfig
    try {
      scratch = await freshScratch(c)
      c.reporter.info(
        `   restoring the plain dump into ${scratch.name} while the snapshot is stored`
      )
      await engine.restore(c.exec, scratch, plain, c.reporter, { intoNew: true })
      took('restored')
    } catch (e) {
      return { unusable: e instanceof Error ? e : new Error(String(e)) }
    } finally {
      await c.exec.tryRun(removeTree(linkDir)).catch(() => undefined)
    }
    let tables: TableChecksum[] | undefined
    let kept: KeptValues[] | undefined
    // The script's outcome when it ran beside the checksums: undefined, or its error.
    let script: { error?: string } | undefined
    try {
      // The source values' hashes the anonymisation check needs are kept in the session that
      // takes the copy's checksums (one psql start), right before or after them.
      const plan =
        anonymizes(c) && engine.checksumsThen
          ? await sourceHashesPlan(engine, c.site.anonymize!)
          : undefined
      if (plan && engine.checksumsBesideScript) {
        // postgres: the script starts once the values are kept, beside the checksums (2 cores).
        const r = await engine.checksumsBesideScript(
          c.exec,
          scratch,
          plan.statements,
          await putScript(c)
        )
        if (r.kept) {
          tables = r.tables
          kept = plan.kept
          script = r.script
          took('source values, then the checksums beside the script')
        }
      }
      if (tables === undefined && plan) {
        const r = await engine.checksumsThen!(c.exec, scratch, plan.sql)
        tables = r.tables
        if (r.ran) kept = plan.kept
      } else if (tables === undefined) tables = await engine.checksums(c.exec, scratch)
      if (!script) took(kept ? 'checksums and source values' : 'checksums')
    } catch (failure) {
      return { checked: { failure }, times }
    }
    if (!anonymizes(c) || compareTables(expected, tables).some(t => !t.ok))
      return { checked: { tables }, times }
    try {
      if (script?.error) throw scriptFailed(c.site.anonymize!, script.error)
      const note = await anonymizeCopy(c, kept, script && 'script run beside the checksums')
      return { checked: { tables }, anonymized: { note }, times }
    } catch (failure) {
      return { checked: { tables }, anonymized: { failure }, times }
    }
  })()
}

/** Where the site's anonymising script is put on the host: the run's work directory. */
function scriptOnHost(c: ApplyContext): string {
  return `${c.work}/anonymize.sql`
}

/** Put the site's anonymising script on the host (readable by this user only); its path there. */
async function putScript(c: ApplyContext): Promise<string> {
  await c.exec.put(c.site.anonymize!, scriptOnHost(c), 0o600)
  return scriptOnHost(c)
}

/** Whether this run anonymises its copy (a sync of a site with `anonymize:`). */
function anonymizes(c: ApplyContext): boolean {
  return c.op === 'sync' && !!c.site.anonymize
}

/**
 * Run the site's anonymising script on the scratch copy, compact the copy and check it
 * (anonymize.ts), or check then compact where the engine compacts last
 * ({@link DatabaseEngine.compactBeforeCheck}); returns the note. Throws a SitecycleError naming
 * the script and rule when the check fails (the copy is then dropped, never swapped in).
 */
async function anonymizeCopy(
  c: ApplyContext,
  kept?: KeptValues[],
  /** The script ran already, after `kept` was kept (the note says how). */
  scriptRan?: string
): Promise<string> {
  const onHost = scriptRan === undefined ? await putScript(c) : scriptOnHost(c)
  const engine = engineOf(c)
  const compact = async (tables: string[]): Promise<string> => {
    const start = Date.now()
    await engine.compact!(c.exec, scratchOf(c), tables)
    return `compacted in ${((Date.now() - start) / 1000).toFixed(1)} s`
  }
  const first = engine.compact && engine.compactBeforeCheck
  const { note, tables } = await anonymizeAndCheck(
    c.exec,
    engine,
    scratchOf(c),
    {
      local: c.site.anonymize!,
      onHost
    },
    { keptBefore: kept, scriptRan, beforeCheck: first ? compact : undefined }
  )
  if (first || !engine.compact) return note
  return `${note}; ${await compact(tables)}`
}

/** Drop the scratch copy, if any (waiting for an early restore to end first). */
export async function dropScratch(c: ApplyContext): Promise<void> {
  if (c.stagedEarly) await c.stagedEarly
  if (!c.stagedDatabase) return
  const scratch = scratchOf(c)
  if (await engineOf(c).exists(c.exec, scratch)) await engineOf(c).drop(c.exec, scratch)
}

/**
 * The steps that put a snapshot (already chosen and reachable on the target host) into the site:
 * everything staged beside the site's data first (database restored, checked and anonymised in a
 * scratch database; folders copied into hidden siblings), then swapped in at one step whose
 * intent is journaled first, so that a failure or a kill leaves the site's previous data or the
 * complete new data, never a mix and never an un-anonymised copy (see data-swap.ts).
 */
export function applySteps(): Step<ApplyContext>[] {
  return [
    {
      name: 'check-snapshot',
      title: "check the snapshot's dump against the sha256 in its manifest",
      run: async c => {
        const m = c.manifest!
        checkApplicable(m, c.site, `site ${m.site}`)
        planFolders(m, c.snapshotDir!, c.site)
        return checkSnapshotDump(c.exec, c.python, m, c.snapshotDir!, {
          reporter: c.reporter,
          progressPath: `${siteLayout(c.site.root).state}/progress-check-${m.id}.json`
        })
      }
    },
    {
      name: 'stage-database',
      title:
        "restore the dump into a scratch database beside the site's own; its tables' checksums must equal the snapshot's",
      when: c => !!c.manifest!.database,
      run: async c => {
        const db = databaseOf(c)!
        const engine = engineOf(c)
        const record = c.manifest!.database!
        const early = c.stagedEarly ? await c.stagedEarly : undefined
        const fromPlain = !!early && !early.unusable && record.checksumsFrom !== 'file'
        if (early && !fromPlain)
          c.reporter.warn(
            `the copy restored from the plain dump cannot serve (${early.unusable?.message ?? 'its checksums are in the dump file'}): restoring from snapshot ${c.manifest!.id}`
          )
        // The early copy's anonymising is the anonymize step's only when this step keeps the copy.
        if (!fromPlain) c.stagedEarly = undefined
        let expected: TableChecksum[]
        const scratch = fromPlain ? scratchOf(c) : await freshScratch(c)
        if (fromPlain) expected = record.tables
        else
          // A stored (zstd) dump is decompressed into the run's work directory for the restore.
          expected = await withMaterializedDump(
            c.exec,
            c.python,
            c.snapshotDir!,
            c.manifest!,
            `${c.work}/dump`,
            async path =>
              (
                await bothSettled(
                  expectedTables(c.exec, engine, db, record, path),
                  engine.restore(c.exec, scratch, path, c.reporter, { intoNew: true })
                )
              )[0]
          )
        const checked = fromPlain ? early!.checked : undefined
        if (checked && 'failure' in checked) throw checked.failure
        // With the planner's statistics (an anonymised copy gets them when it is compacted).
        const tables = await withStatistics(
          c.exec,
          engine,
          scratch,
          checked ? Promise.resolve(checked.tables) : engine.checksums(c.exec, scratch),
          !anonymizes(c)
        )
        const bad = compareTables(expected, tables).filter(t => !t.ok)
        if (bad.length)
          throw new SitecycleError(
            `the copy of snapshot ${c.manifest!.id} restored into ${scratch.name} does not match the snapshot: tables ${bad.map(t => t.table).join(', ')} differ; ${db.name} was not touched`,
            'database'
          )
        c.tables = tables
        const how = fromPlain
          ? ` (restored from the plain dump while the snapshot was stored${early.times?.length ? `: ${early.times.join(', ')}` : ''})`
          : ''
        return `${db.engine} ${scratch.name}${how}: ${tables.length} tables equal to the snapshot's`
      },
      undo: dropScratch
    },
    {
      name: 'anonymize',
      title:
        "run the site's anonymising script on the scratch copy, check that no column it sets keeps a source value, compact it",
      when: c => anonymizes(c) && !!c.manifest!.database,
      run: async c => {
        // Done on the copy restored from the plain dump, while the snapshot was stored.
        const early = (c.stagedEarly ? await c.stagedEarly : undefined)?.anonymized
        if (early && 'failure' in early) throw early.failure
        const note = early
          ? `${early.note} (while the snapshot was stored)`
          : await anonymizeCopy(c)
        c.anonymized = true
        return note
      }
    },
    {
      name: 'stage-files',
      title:
        "copy the snapshot's data folders and shared files into hidden siblings of the site's (rsync)",
      when: c => c.manifest!.files.folders.some(f => !f.missing),
      run: async c => {
        const plans = planFolders(c.manifest!, c.snapshotDir!, c.site)
        for (const p of plans) {
          const { staged, aside } = folderSiblings(p.target, c.opId)
          await c.exec.run(removeTree(staged, aside))
          await c.exec.run(makeDirs([p.target.slice(0, p.target.lastIndexOf('/'))], '755'))
          c.reporter.info(`   copying ${p.name} into ${staged}`)
          // A file is copied, never hard-linked: the application must not write into a snapshot.
          await c.exec.run(p.file ? rsyncFileTo(p.from, staged) : rsyncFolder(p.from, staged))
          const owned = await ownStagedShared(c.exec, c.site, p.target, staged, m =>
            c.reporter.warn(m)
          )
          if (owned) c.reporter.info(`   ${owned}`)
          c.stagedFolders.push({
            target: p.target,
            staged,
            aside,
            stagedId: await stagedIdentity(partsOf(c), staged)
          })
        }
        return plans.map(p => `${p.name} -> ${p.target}`).join(', ')
      },
      undo: async c => {
        const staged = c.stagedFolders.map(f => f.staged)
        if (staged.length) await c.exec.run(removeTree(...staged))
        c.stagedFolders = []
      }
    },
    {
      name: 'freeze',
      title: 'freeze the site: users get the maintenance page (503) while its data is swapped',
      run: async c => {
        await freeze(c.exec, c.site, c.python, {
          message:
            c.op === 'sync'
              ? `This site is being refreshed with a copy of ${c.site.from ?? 'production'} data. Please come back in a few minutes.`
              : 'This site is being restored from a backup. Please come back in a few minutes.'
        })
        return c.frozenBefore ? 'it was frozen already: it stays frozen' : undefined
      },
      undo: async c => {
        // Data that could not be put back whole stays behind the maintenance page.
        if (c.frozenBefore || c.dataInDoubt) return
        await unfreeze(c.exec, c.site)
      }
    },
    {
      name: 'swap-data',
      title:
        'swap the staged database and folders in, the previous ones kept until the end (the intent journaled first)',
      run: async c => {
        const intent: SwapIntent = {
          ...(c.stagedDatabase && {
            database: await databasePlan(partsOf(c), c.stagedDatabase)
          }),
          folders: c.stagedFolders
        }
        await c.journal.append({ id: c.opId, op: c.op, event: 'intent', intent })
        c.intent = intent
        try {
          // Held: no request, the health path's included, runs while the data changes under it,
          // and no daemon keeps a connection to the database swapped out (frozen-deploy.ts).
          let notes: string[] = []
          await restoreWhileHeld(c, c.state, async () => {
            notes = await swapInData(partsOf(c), intent)
          })
          return notes.join('; ')
        } catch (e) {
          // Half swapped: put back what was swapped before the error goes up.
          await rollBackSwap(c)
          throw e
        }
      },
      undo: async c => rollBackSwap(c)
    },
    {
      name: 'hooks',
      title:
        "run the site's after_install hooks in its live release (its code migrates the copied data)",
      when: c =>
        c.state.live !== null &&
        c.site.hooks.afterInstall.length > 0 &&
        (c.op === 'sync' || c.manifest!.live !== c.state.live),
      run: async c => {
        c.hooksRun = await runAfterInstallHooks(
          c.exec,
          c.config,
          c.site,
          { version: c.state.live! },
          c.reporter
        )
        return `${describeHookCount(c.hooksRun)} in ${c.state.live}`
      }
    },
    {
      name: 'restart-live',
      title: "restart the live slot's daemon group (no process keeps the replaced data open)",
      when: c => c.state.live !== null,
      run: async c => {
        const slot = liveSlotOf(c)
        const pids = await restartSlotGroup(c.exec, c.site, c.python, slot)
        return `slot ${slot}, pids ${pids}`
      }
    },
    {
      name: 'verify',
      title: 'verify the site over HTTP (its health path answers while it is frozen)',
      when: c => c.state.live !== null,
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, { version: c.state.live! })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(p, `site ${c.site.name} after the ${c.op}`, c.state.live!),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    {
      name: 'unfreeze',
      title: 'unfreeze the site: users reach it again',
      when: c => !c.frozenBefore,
      run: async c => {
        await unfreeze(c.exec, c.site)
      }
    },
    {
      name: 'cleanup',
      title: 'drop the previous database and folders kept for the way back, and the work directory',
      critical: false,
      run: async c => {
        const notes = c.intent ? await finishData(partsOf(c), c.intent) : []
        await c.exec.run(removeTree(c.work))
        return notes.join(', ') || undefined
      }
    }
  ]
}

/**
 * The undo of swap-data: the previous database and folders back in place while the site is held,
 * its daemons restarted around it (they may hold the swapped-out data open). When that fails the site's data is in
 * doubt: it stays frozen, and the run stays open in the journal for the next operation to finish.
 */
async function rollBackSwap(c: ApplyContext): Promise<void> {
  try {
    await restoreWhileHeld(c, c.state, async () => {
      const notes = await rollBackData(partsOf(c), c.intent!)
      for (const n of notes) c.reporter.info(`   ${n}`)
    })
  } catch (e) {
    c.dataInDoubt = true
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Running: shared by restore and sync

/** Steps of earlier runs of this kind that ended killed, recovered by this run (opId). */
export async function interruptedRuns(
  journal: Journal,
  ops: string[],
  by: string
): Promise<JournalOperation[]> {
  return (await journal.operations()).filter(
    o => ops.includes(o.op) && o.end?.event === 'recovered' && o.end.by === by
  )
}

/**
 * Whether the site counts as frozen before this run: it is frozen now, after the recovery (which
 * unfreezes what an interrupted restore or sync had frozen, once the site's data is whole again),
 * and not only because an interrupted run left its data in doubt, which this run replaces whole
 * (the site opens again when this run succeeds).
 */
export async function frozenBeforeRun(c: OperationContext): Promise<boolean> {
  if (c.superseded?.length) return false
  return (await frozenState(c.exec, c.site)).frozen
}

/** A fresh apply context (the caller sets source, manifest, snapshotDir). */
export function newApplyContext(
  op: ApplyContext['op'],
  octx: OperationContext,
  state: SiteState,
  frozenBefore: boolean,
  resumed: string[],
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
): ApplyContext {
  return {
    ...octx,
    op,
    work: `${siteLayout(octx.site.root).incoming}/${octx.opId}`,
    state,
    frozenBefore,
    stagedFolders: [],
    dataInDoubt: false,
    hooksRun: 0,
    anonymized: false,
    resumed,
    engines: engines ?? getEngine
  }
}

/** Run `steps` for `c`, journaling each; a failure becomes DataOperationFailed with a sentence on the site's state. */
export async function runApply(
  c: ApplyContext,
  steps: Step<ApplyContext>[],
  extraEvent: (c: ApplyContext, step: string) => Record<string, unknown> = () => ({})
): Promise<StepReport[]> {
  await c.exec.run(makeDirs([c.work], '700'))
  try {
    return await runPipeline(steps, c, c.reporter, {
      onEvent: e =>
        c.journal.append({ id: c.opId, op: c.op, event: 'step', ...e, ...extraEvent(c, e.step) })
    })
  } catch (e) {
    if (!(e instanceof PipelineError)) throw e
    if (e.undoComplete) await c.exec.tryRun(removeTree(c.work)).catch(() => undefined)
    const frozen = (await frozenState(c.exec, c.site).catch(() => ({ frozen: true }))).frozen
    const state = c.dataInDoubt
      ? `putting its previous data back failed: site ${c.site.name} stays in maintenance, and the next sitecycle operation on it (\`sitecycle status ${c.site.name}\` shows it) finishes putting it back`
      : e.undoComplete
        ? `site ${c.site.name} holds its data from before, unchanged`
        : `some undo steps failed: site ${c.site.name} needs a look (\`sitecycle status ${c.site.name}\`)`
    throw new DataOperationFailed(
      `${c.op} of site ${c.site.name} failed at step '${e.failedStep}': ${failureCause(e)}; ${state}`,
      e.failedStep,
      e.reports,
      e.undoComplete,
      frozen,
      c.dataInDoubt
    )
  }
}

/** The outcome of a finished run. */
export function outcomeOf(c: ApplyContext, steps: StepReport[]): DataOutcome {
  const m = c.manifest!
  return {
    op: c.op,
    status: c.op === 'restore' ? 'restored' : 'synced',
    site: c.site.name,
    host: c.exec.name,
    source: { site: c.source!.site.name, host: c.source!.exec.name },
    snapshot: m.id,
    database:
      m.database && c.site.database
        ? { engine: m.database.engine, name: c.site.database.name, tables: c.tables ?? [] }
        : null,
    files: c.stagedFolders.map(s => ({
      name:
        planFolders(m, c.snapshotDir!, c.site).find(p => p.target === s.target)?.name ?? s.target,
      target: s.target
    })),
    anonymized: c.anonymized,
    hooks: c.hooksRun,
    live: c.state.live,
    frozen: c.frozenBefore,
    resumed: c.resumed,
    steps,
    operationId: c.opId
  }
}

/** Register the site's database password as a secret; a missing one fails before the host is touched. */
export function checkDatabaseSecret(site: SiteConfig, reporter: Reporter, env = process.env): void {
  if (!site.database) return
  const password = databasePassword(site.database, env)
  if (password) reporter.addSecret(password)
}

/** The newest complete snapshot of a site, or a SitecycleError saying how to take one. */
export async function newestSnapshotId(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<string> {
  const complete = (await listSnapshotIds(exec, site, python)).filter(s => s.complete)
  const newest = complete[complete.length - 1]
  if (!newest)
    throw new SitecycleError(
      `site ${site.name} has no complete snapshot on ${exec.name}: take one with \`sitecycle snapshot ${site.name}\``,
      'snapshot'
    )
  return newest.id
}

/** Read a snapshot's manifest, or a SitecycleError naming the snapshot and where it was looked for. */
export async function requireManifest(
  exec: Executor,
  site: SiteConfig,
  id: string
): Promise<SnapshotManifest> {
  const dir = siteLayout(site.root).snapshots
  const m = await readManifest(exec, dir, id)
  if (!m)
    throw new SitecycleError(
      `no complete snapshot ${id} of site ${site.name} in ${dir} on ${exec.name}; see \`sitecycle snapshots ${site.name}\``,
      'snapshot'
    )
  return m
}

// ---------------------------------------------------------------------------------------------
// restore

export interface RestoreRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** The snapshot id (default: the newest complete one). */
  snapshot?: string
  lockWait?: number
  /** The engine registry (tests may pass their own). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
}

/** The steps of a restore, in order. */
export function restoreSteps(): Step<ApplyContext>[] {
  return applySteps().filter(s => s.name !== 'anonymize')
}

/** The plan of a restore, one line per step (for --dry-run). */
export function restorePlan(): string[] {
  return describePlan(restoreSteps())
}

/**
 * Restore a snapshot of a site into the site (see the module comment). Throws SitecycleError on
 * bad input (nothing touched) and DataOperationFailed when a step failed (its undos ran).
 */
export async function restoreSite(req: RestoreRequest): Promise<DataOutcome> {
  const { site, exec, reporter } = req
  const python = req.config.app.python
  checkDatabaseSecret(site, reporter)
  if (site.database) (req.engines ?? getEngine)(site.database.engine)
  let id = req.snapshot
  let resumed: JournalOperation[] = []
  let frozenBefore = false
  return withSiteOperation(
    { op: 'restore', config: req.config, site, exec, reporter, lockWait: req.lockWait },
    async octx => {
      id ??= await newestSnapshotId(exec, site, python)
      resumed = await interruptedRuns(octx.journal, ['restore', 'sync'], octx.opId)
      frozenBefore = await frozenBeforeRun(octx)
      return {
        snapshot: id,
        frozenBefore,
        ...(resumed.length && { resumes: resumed.map(o => o.id) })
      }
    },
    async octx => {
      const manifest = await requireManifest(exec, site, id!)
      checkApplicable(manifest, site, `site ${site.name}`)
      const state = await readSiteState(exec, site, python)
      const c = newApplyContext(
        'restore',
        octx,
        state,
        frozenBefore,
        resumed.map(o => o.id),
        req.engines
      )
      c.source = { site, exec, id: manifest.id }
      c.manifest = manifest
      c.snapshotDir = snapshotPaths(siteLayout(site.root).snapshots, manifest.id).dir
      const steps = await runApply(c, restoreSteps())
      return { ...outcomeOf(c, steps), journal: { snapshot: manifest.id } }
    }
  ).then(({ journal: _j, ...o }: DataOutcome & { journal?: unknown }) => o)
}
