/**
 * `sitecycle restore`: a snapshot put back into a site, with the site frozen (the maintenance
 * page) while it happens. Holding the site lock: choose the snapshot → check its dump against
 * the manifest's sha256 → dump the database as it is now (the undo) → freeze → restore the
 * database (the engine restores into a fresh database and swaps it in; the tables' checksums must
 * then equal the snapshot's) → restore the data folders (rsync into a hidden sibling, then one
 * rename exchange) → run the hooks in the live release when the snapshot was taken under another
 * release → restart the live daemon group → verify over HTTP (the health path passes the
 * maintenance page) → unfreeze → remove what was kept for the undo.
 *
 * Any failure runs the undos in reverse: the saved dump restored, the folders exchanged back, the
 * site unfrozen. A run killed with SIGKILL leaves the site frozen; the next restore (or sync)
 * recovers and completes, and unfreezes it only if it was open before the interrupted run.
 *
 * The steps here are shared with sync (sync.ts), which adds taking the source's snapshot, copying
 * it between hosts and the anonymising script.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { cmd, type Command } from '../commands/command.js'
import { makeDirs, removeTree } from '../commands/files.js'
import { databasePassword } from '../databases/connection.js'
import type { DatabaseConfig, DatabaseEngine, TableChecksum } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
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
import { rsyncFolder, snapshotFolderName } from '../snapshots/files.js'
import { listSnapshotIds, readManifest } from '../snapshots/list.js'
import { checkSnapshotDump } from '../snapshots/check-dump.js'
import { FILES_DIR, snapshotPaths, type SnapshotManifest } from '../snapshots/manifest.js'
import { compareTables } from '../snapshots/verify.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation, type OperationContext } from './operation.js'
import { PipelineError, describePlan, runPipeline, type Step, type StepReport } from './pipeline.js'

/** Where the snapshot being applied lives and what it holds. */
export interface SnapshotSource {
  /** The site the snapshot was taken of (the target itself for a restore). */
  site: SiteConfig
  /** An executor on that site's host. */
  exec: Executor
  /** The snapshot id. */
  id: string
}

/** A data folder of the snapshot and where it goes on the target site. */
export interface FolderPlan {
  /** Its name under the snapshot's files/ (see snapshotFolderName). */
  name: string
  /** The copy in the snapshot (on the target's host). */
  from: string
  /** The target site's data folder. */
  target: string
}

/** A data folder put in place: where its previous content waits until the end (the undo). */
export interface FolderSwap {
  target: string
  /** Hidden sibling holding the previous content (absent when the folder did not exist). */
  aside: string
  /** Hidden sibling the new content was staged in. */
  staged: string
  /** moved (there was no folder), exchanged (renameat2) or renamed (two renames). */
  how: 'moved' | 'exchanged' | 'renamed'
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
  /** The target database's dump from before the restore (restore only: the undo). */
  savedDump?: string
  /** True once the target database holds the snapshot's data. */
  databaseReplaced: boolean
  swaps: FolderSwap[]
  /** Checksums of the target's tables after the restore (before any anonymising). */
  tables?: TableChecksum[]
  hooksRun: number
  anonymized: boolean
  /** Interrupted runs this one completes. */
  resumed: string[]
  engines: (name: DatabaseConfig['engine']) => DatabaseEngine
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
    readonly leftFrozen: boolean
  ) {
    super(message, 'data')
    this.name = 'DataOperationFailed'
  }
}

// ---------------------------------------------------------------------------------------------
// Host programs and command builders (pure)

/**
 * Host program, argv: staged, target, aside. Put the folder `staged` in the place of `target`:
 * with one renameat2(RENAME_EXCHANGE) where the kernel and filesystem allow it (readers see the
 * old folder or the new one, never none), else two renames; the previous content ends at
 * `aside`. Prints moved (no target before), exchanged or renamed.
 */
export const SWAP_FOLDER = `
import ctypes, os, sys
staged, target, aside = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.lexists(target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(staged, target)
    print('moved')
    sys.exit(0)
try:
    f = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):
    f = None
if f is not None and f(-100, os.fsencode(staged), -100, os.fsencode(target), 2) == 0:
    os.rename(staged, aside)
    print('exchanged')
    sys.exit(0)
os.rename(target, aside)
os.rename(staged, target)
print('renamed')
`

/**
 * Host program, argv: folder. Remove the hidden siblings interrupted runs left next to a data
 * folder (`.<name>.sc-new-*`, `.<name>.sc-old-*`). Prints what it removed, one per line.
 */
export const REMOVE_FOLDER_LEFTOVERS = `
import os, shutil, sys
folder = sys.argv[1].rstrip('/')
parent, base = os.path.dirname(folder), os.path.basename(folder)
try:
    names = os.listdir(parent)
except FileNotFoundError:
    names = []
for n in sorted(names):
    if n.startswith('.%s.sc-new-' % base) or n.startswith('.%s.sc-old-' % base):
        p = os.path.join(parent, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
        print(p)
`

function hostProgram(python: string, program: string, args: string[]): Command {
  return cmd([python, '-I', '-S', '-c', program, ...args])
}

/** The hidden siblings of a data folder a run stages into and keeps the old content in. Pure. */
export function folderSiblings(target: string, opId: string): { staged: string; aside: string } {
  const i = target.lastIndexOf('/')
  const parent = target.slice(0, i)
  const base = target.slice(i + 1)
  return {
    staged: `${parent}/.${base}.sc-new-${opId}`,
    aside: `${parent}/.${base}.sc-old-${opId}`
  }
}

/** `python -c SWAP_FOLDER <staged> <target> <aside>` */
export function swapFolder(python: string, staged: string, target: string, aside: string): Command {
  return hostProgram(python, SWAP_FOLDER, [staged, target, aside])
}

/** `python -c REMOVE_FOLDER_LEFTOVERS <folder>` */
export function removeFolderLeftovers(python: string, folder: string): Command {
  return hostProgram(python, REMOVE_FOLDER_LEFTOVERS, [folder])
}

/**
 * Which of the target site's data folders each folder of the snapshot goes to: the one with the
 * same name relative to its root (`shared/uploads`), else the one at the same position in `data:`.
 * A snapshot folder with no place is an error naming it, before anything is touched. Pure.
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
      const byName = data.find(d => snapshotFolderName(site.root, d) === f.name)
      const target = byName ?? (data.length === manifest.files.folders.length ? data[i] : undefined)
      if (target === undefined)
        throw new SitecycleError(
          `snapshot ${manifest.id} of site ${manifest.site} holds the data folder ${f.name} (${f.source}), but site ${site.name} has no data folder for it: ` +
            `add it to sites.${site.name}.data (as ${f.name}, or at position ${i + 1})`,
          'config'
        )
      return { name: f.name, from: `${snapshotDir}/${FILES_DIR}/${f.name}`, target }
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

function dumpPathOf(c: ApplyContext): string {
  return `${c.snapshotDir}/${c.manifest!.database!.dump}`
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

/** The steps that put a snapshot (already chosen and reachable on the target host) into the site. */
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
      name: 'save-current',
      title: 'dump the database as it is now, to put it back if a later step fails',
      when: c => c.op === 'restore' && !!c.manifest!.database,
      run: async c => {
        const db = databaseOf(c)!
        const engine = engineOf(c)
        if (!(await engine.exists(c.exec, db))) return 'no database yet: nothing to save'
        c.savedDump = `${c.work}/before.dump`
        await engine.dump(c.exec, db, c.savedDump, c.reporter)
        return c.savedDump
      }
    },
    {
      name: 'freeze',
      title: 'freeze the site: users get the maintenance page (503) while its data is replaced',
      run: async c => {
        await freeze(c.exec, c.site, {
          message:
            c.op === 'sync'
              ? `This site is being refreshed with a copy of ${c.site.from ?? 'production'} data. Please come back in a few minutes.`
              : 'This site is being restored from a backup. Please come back in a few minutes.'
        })
        return c.frozenBefore ? 'it was frozen already: it stays frozen' : undefined
      },
      undo: async c => {
        // A sync that replaced the database keeps the site frozen: its copy is not ready for users
        // (not anonymised, not migrated); the next sync completes it.
        if (c.frozenBefore || (c.databaseReplaced && c.op === 'sync')) return
        await unfreeze(c.exec, c.site)
      }
    },
    {
      name: 'restore-database',
      title:
        "restore the database (into a fresh one, then swapped in); its tables' checksums must equal the snapshot's",
      when: c => !!c.manifest!.database,
      run: async c => {
        const db = databaseOf(c)!
        const engine = engineOf(c)
        const record = c.manifest!.database!
        await engine.restore(c.exec, db, dumpPathOf(c), c.reporter)
        c.databaseReplaced = true
        const tables = await engine.checksums(c.exec, db)
        const bad = compareTables(record.tables, tables).filter(t => !t.ok)
        if (bad.length)
          throw new SitecycleError(
            `${db.name} does not match snapshot ${c.manifest!.id} after the restore: tables ${bad.map(t => t.table).join(', ')} differ`,
            'database'
          )
        c.tables = tables
        return `${db.engine} ${db.name}: ${tables.length} tables equal to the snapshot's`
      },
      undo: async c => {
        if (!c.savedDump) return
        await engineOf(c).restore(c.exec, databaseOf(c)!, c.savedDump, c.reporter)
        c.databaseReplaced = false
      }
    },
    {
      name: 'restore-files',
      title: 'restore the data folders (rsync into a hidden sibling, then one rename exchange)',
      when: c => c.manifest!.files.folders.some(f => !f.missing),
      run: async c => {
        const plans = planFolders(c.manifest!, c.snapshotDir!, c.site)
        for (const p of plans) {
          const { staged, aside } = folderSiblings(p.target, c.opId)
          await c.exec.run(removeFolderLeftovers(c.python, p.target))
          await c.exec.run(makeDirs([p.target.slice(0, p.target.lastIndexOf('/'))], '755'))
          c.reporter.info(`   copying ${p.name} into ${staged}`)
          await c.exec.run(rsyncFolder(p.from, staged))
          const how = (
            await c.exec.run(swapFolder(c.python, staged, p.target, aside))
          ).stdout.trim()
          c.swaps.push({ target: p.target, staged, aside, how: how as FolderSwap['how'] })
        }
        return plans.map(p => `${p.name} -> ${p.target}`).join(', ')
      },
      undo: async c => {
        for (const s of [...c.swaps].reverse()) {
          if (s.how === 'moved') {
            await c.exec.run(removeTree(s.target))
          } else {
            await c.exec.run(swapFolder(c.python, s.aside, s.target, s.staged))
            await c.exec.run(removeTree(s.staged))
          }
        }
        c.swaps = []
      }
    },
    {
      name: 'anonymize',
      title: "run the site's anonymising SQL script on its database",
      when: c => c.op === 'sync' && !!c.site.anonymize && !!c.manifest!.database,
      run: async c => {
        const onHost = `${c.work}/anonymize.sql`
        await c.exec.put(c.site.anonymize!, onHost, 0o600)
        await engineOf(c).runSqlFile(c.exec, databaseOf(c)!, onHost)
        c.anonymized = true
        return c.site.anonymize
      }
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
        const slot = c.site.apache.mode === 'single' ? 'current' : c.state.liveSlot
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
            describeProbe(
              p,
              `site ${c.site.name} (${c.site.health.path}) after the ${c.op}`,
              c.state.live!
            ),
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
      title: 'remove the previous data folders and the saved dump',
      critical: false,
      run: async c => {
        const gone = c.swaps.filter(s => s.how !== 'moved').map(s => s.aside)
        await c.exec.run(removeTree(c.work, ...gone))
        return gone.length ? `removed ${gone.length} previous folder(s)` : undefined
      }
    }
  ]
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
 * Whether the site counts as frozen before this run: frozen now and not by an interrupted
 * restore or sync, nor by a failed sync that kept it frozen on purpose (each recorded whether the
 * site was frozen before it).
 */
export async function frozenBeforeRun(
  c: OperationContext,
  interrupted: JournalOperation[]
): Promise<boolean> {
  const now = (await frozenState(c.exec, c.site)).frozen
  const froze = [...interrupted]
    .reverse()
    .find(o => o.steps.some(s => s.step === 'freeze' && s.status === 'ok'))
  if (froze && now) return Boolean(froze.start.frozenBefore)
  if (now) {
    // A sync that failed after its database swap leaves the site frozen "until the next sync
    // completes": that freeze is the failed run's, not the operator's, unless a maintenance
    // operation came after it.
    const last = (await c.journal.operations())
      .filter(o => o.id !== c.opId && /^(sync|restore|maintenance-on|maintenance-off)$/.test(o.op))
      .pop()
    if (
      last &&
      (last.op === 'sync' || last.op === 'restore') &&
      last.end?.event === 'end' &&
      last.end.status === 'failed' &&
      last.steps.some(s => s.step === 'freeze' && s.status === 'ok')
    )
      return Boolean(last.start.frozenBefore)
  }
  return now
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
    databaseReplaced: false,
    swaps: [],
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
    // After a failed undo the work directory may hold the only copy of the data from before (before.dump).
    if (e.undoComplete) await c.exec.tryRun(removeTree(c.work)).catch(() => undefined)
    const frozen = (await frozenState(c.exec, c.site).catch(() => ({ frozen: true }))).frozen
    const cause = e.cause instanceof Error ? e.cause.message : String(e.cause)
    const state =
      c.databaseReplaced && c.op === 'sync'
        ? `site ${c.site.name} holds the copied data but is not ready: it stays frozen until \`sitecycle sync ${c.site.name}\` completes`
        : e.undoComplete
          ? `site ${c.site.name} is as it was`
          : `some undo steps failed: site ${c.site.name} needs a look (\`sitecycle status ${c.site.name}\`)`
    throw new DataOperationFailed(
      `${c.op} of site ${c.site.name} failed at step '${e.failedStep}': ${cause}; ${state}`,
      e.failedStep,
      e.reports,
      e.undoComplete,
      frozen
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
    files: c.swaps.map(s => ({
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
      frozenBefore = await frozenBeforeRun(octx, resumed)
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
