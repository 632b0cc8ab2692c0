/**
 * `sitecycle mirror`: refresh a delayed mirror site (role `mirror`) from the snapshots of its
 * `from` site. A mirror shows the newest complete snapshot that is at least `lag` old (by the
 * time in the snapshot's id, against an injectable clock), so `lag: 1d`, `7d` and `30d` give
 * copies of production as it was yesterday, a week ago and a month ago. The source's retention
 * keeps the snapshots this needs (snapshots/retention.ts). After a promote of the `from` site's
 * upgrade attempt the mirror follows the new production (recorded in its mirror.json), and the
 * old production's snapshots up to the promote still count.
 *
 * Holding the mirror's lock: choose the snapshot → (nothing to do when the mirror already shows
 * it) → forget which snapshot the mirror shows → restore the dump into a scratch database beside
 * the mirror's and compare its tables' checksums with the snapshot's manifest → copy each data
 * folder into a hidden sibling → swap the database and the folders in at one step while the
 * mirror is held (data-swap.ts: the intent journaled first, the previous data kept until the
 * end, so a failure or a kill leaves the mirror all old or all new, finished or undone by the next
 * operation) → make the database read-only for new sessions (PostgreSQL) → record the snapshot
 * shown in `<root>/.sitecycle/mirror.json` → restart the live slot's daemons → drop what was kept.
 * The `from` site is only read (its snapshots directory, no lock taken); the mirror must live on a
 * host of its `from` site, where the snapshots are.

 * Its release: after the lock is let go, when the release live on the mirror is not the one the
 * shown snapshot was taken under (its manifest's `live`; the source's live release when it names
 * none), that release is deployed to the mirror as `sitecycle deploy` would (the mirror's own
 * `releases`/`store`, else its source's), so the code matches the data's schema and a new mirror
 * serves without a deploy by hand. A mirror not yet initialized is left alone, with a note.
 *
 * Read-only: Apache refuses every method but GET and HEAD on a mirror (405, commands/apache.ts),
 * and a PostgreSQL mirror's database defaults its sessions to read-only transactions after each
 * restore; see the README for what this does and does not stop. With a read-only login
 * (`database.reader`, which `{{ database.url }}` then names), stage-database also grants it read
 * access on the copy and checks, logged in as it, that it can read every table and nothing more
 * (mirror-reader.ts), before anything is swapped in. A mirror also renders its own
 * config template (`sites.<n>.config`), where an application's own read-only switch belongs.
 * Access: a mirror is protected by basic auth by default, like a preview (`sites.<n>.access`,
 * written by `sitecycle init`).
 */
import { isDataFile, ownStagedShared } from '../sites/shared-links.js'
import { makeDirs, removeTree } from '../commands/files.js'
import { cmd } from '../commands/command.js'
import { hostLabel } from '../config/host-spec.js'
import type { MirrorLag, SitecycleConfig, SiteConfig } from '../config/model.js'
import { siteHosts } from '../config/site-hosts.js'
import type { DatabaseConfig, DatabaseEngine } from '../databases/engine.js'
import { getEngine, withStatistics } from '../databases/registry.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout } from '../sites/layout.js'
import {
  mirrorStatePath,
  readMirrorState,
  writeMirrorState,
  type MirrorFollows,
  type MirrorState
} from '../sites/mirror-state.js'
import { readSiteState, restartSlotGroup } from '../sites/site-state.js'
import { rsyncFileTo, snapshotFolderName } from '../snapshots/files.js'
import { describeAge, listSnapshotIds, readManifest } from '../snapshots/list.js'
import { snapshotPaths, type SnapshotManifest } from '../snapshots/manifest.js'
import { parseSnapshotId } from '../snapshots/retention.js'
import { compareTables, expectedTables } from '../snapshots/verify.js'
import { ConfigError, SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  databaseSwapNames,
  finishData,
  folderSiblings,
  rollBackData,
  stagedIdentity,
  swapInData,
  swapParts,
  databasePlan,
  type FolderSwapPlan,
  type SwapIntent,
  type SwapParts
} from './data-swap.js'
import { restoreWhileHeld } from './frozen-deploy.js'
import { readerProblem } from './mirror-reader.js'
import { withMaterializedDump } from '../snapshots/dump-store.js'
import { OperationFailed, withSiteOperation, type OperationContext } from './operation.js'
import { failureCause } from './outcome.js'
import { describePlan, PipelineError, runPipeline, type Step, type StepReport } from './pipeline.js'
import { deploy } from './deploy.js'
import { bothSettled } from '../util/settled.js'

export {
  MIRROR_STATE_FILE,
  mirrorStatePath,
  readMirrorState,
  type MirrorFollows,
  type MirrorState
} from '../sites/mirror-state.js'

export interface MirrorRequest {
  config: SitecycleConfig
  /** The mirror site (role `mirror`, with `from` and `lag`). */
  site: SiteConfig
  /** The mirror's host; the `from` site's snapshots are read there too. */
  exec: Executor
  reporter: Reporter
  lockWait?: number
  /** The clock (tests pass a fake one): the snapshot shown is the newest at least `lag` before it. */
  now?: () => Date
  /** Where the database password's variable is looked up (default process.env). */
  env?: NodeJS.ProcessEnv
  /** The engine registry (default: databases/registry.ts). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
  /** Restart the live slot's daemons after a refresh (default true). */
  reload?: boolean
  /** Deploy the release of the shown snapshot when the mirror serves another (default true). */
  deployRelease?: boolean
}

/** A mirror refreshed, already up to date, or waiting for a snapshot old enough. */
export interface MirrorOutcome {
  /**
   * `refreshed`: it shows `snapshot` now; `unchanged`: it showed `snapshot` already;
   * `waiting`: no snapshot of `from` is `lag` old yet (the mirror keeps what it had).
   */
  status: 'refreshed' | 'unchanged' | 'waiting'
  site: string
  host: string
  from: string
  lag: string
  /** The snapshot the mirror shows now (null: none yet). */
  snapshot: string | null
  /** When it was taken (ISO 8601), and its age in seconds by the run's clock. */
  takenAt: string | null
  ageSeconds: number | null
  /** The snapshot the mirror showed before this run (null: none, or a refresh had failed). */
  previousSnapshot: string | null
  url: string
  /** The release the mirror serves after this run (null: none, or not known). */
  release: string | null
  /** The release this run deployed to the mirror, when it deployed one. */
  deployed?: string
  steps: StepReport[]
  operationId: string
  notes: string[]
}

/** A refresh that failed; the mirror's state says it shows no known snapshot until the next run. */
export class MirrorFailed extends SitecycleError {
  constructor(
    message: string,
    readonly failedStep: string,
    readonly steps: StepReport[],
    readonly undoComplete: boolean
  ) {
    super(message, 'mirror')
    this.name = 'MirrorFailed'
  }
}

/**
 * The snapshot a mirror with `lagSeconds` shows at `now`: the newest id taken at or before
 * `now - lag`; undefined when none is that old. Ids that are not snapshot ids are ignored. Pure.
 */
export function chooseMirrorSnapshot(
  ids: readonly string[],
  lagSeconds: number,
  now: Date
): string | undefined {
  const cutoff = now.getTime() - lagSeconds * 1000
  let best: { id: string; t: number } | undefined
  for (const id of ids) {
    const t = parseSnapshotId(id)?.getTime()
    if (t === undefined || t > cutoff) continue
    // Same second: the later sequence number (a longer id sorts after) is the newer snapshot.
    if (!best || t > best.t || (t === best.t && id.localeCompare(best.id) > 0)) best = { id, t }
  }
  return best?.id
}

/** Where a snapshot's data folder (or shared file) goes on the mirror. */
export interface FolderPlacement {
  /** Its name under the snapshot's files/. */
  name: string
  /** A shared entry of kind file: copied as one file. */
  file: boolean
  /** The mirror's data folder (absolute). */
  target: string
}

/**
 * Match the snapshot's data folders to the mirror's: by the same path relative to each site's
 * root (`shared/uploads` → `<mirror root>/shared/uploads`), else by position in `data:`; a
 * shared file only to a shared file entry, a folder only to a folder. Folders and files that
 * match nothing are returned in `unplaced`. Pure.
 */
export function placeFolders(
  manifest: Pick<SnapshotManifest, 'files'>,
  mirror: Pick<SiteConfig, 'root' | 'data' | 'shared'>
): { placed: FolderPlacement[]; unplaced: string[] } {
  const targets = mirror.data ?? []
  const fits = (f: { kind?: 'file' }, t: string) => isDataFile(mirror, t) === (f.kind === 'file')
  const byName = new Map(targets.map(t => [snapshotFolderName(mirror.root, t), t]))
  const used = new Set<string>()
  const placed: FolderPlacement[] = []
  const unplaced: string[] = []
  const folders = manifest.files.folders.filter(f => !f.missing)
  for (const f of folders) {
    const target = byName.get(f.name)
    if (target && !used.has(target) && fits(f, target)) {
      used.add(target)
      placed.push({ name: f.name, file: f.kind === 'file', target })
    }
  }
  folders.forEach(f => {
    if (placed.some(p => p.name === f.name)) return
    const i = manifest.files.folders.indexOf(f)
    const target = targets[i]
    if (target && !used.has(target) && fits(f, target)) {
      used.add(target)
      placed.push({ name: f.name, file: f.kind === 'file', target })
    } else unplaced.push(f.name)
  })
  return { placed, unplaced }
}

/** The `from` site and the lag of a mirror; ConfigError naming what is missing or wrong. */
export function mirrorSource(
  config: SitecycleConfig,
  site: SiteConfig
): { source: SiteConfig; lag: MirrorLag } {
  const where = `sites.${site.name}`
  if (site.role !== 'mirror')
    throw new ConfigError(
      `site ${site.name} has role ${site.role}, not mirror: only mirror sites are refreshed from snapshots; set ${where}.role: mirror (with from and lag) in ${config.file}`,
      config.file
    )
  const missing = (['from', 'lag'] as const).filter(k => site[k] === undefined)
  if (missing.length)
    throw new ConfigError(
      `mirror site ${site.name} has no ${missing.join(' and no ')} in ${config.file}; expected such as ${where}.from: v1 (the site it mirrors) and ${where}.lag: 7d (how far behind it shows)`,
      config.file
    )
  const source = Object.hasOwn(config.sites, site.from!) ? config.sites[site.from!] : undefined
  if (!source)
    throw new ConfigError(
      `${where}.from is ${site.from}, which is not a site in ${config.file}`,
      config.file
    )
  return { source, lag: site.lag! }
}

interface MirrorContext {
  req: MirrorRequest
  /** The site whose snapshot the mirror shows (after choose-snapshot: the chosen one's). */
  source: SiteConfig
  /** Where snapshots are looked for: the followed site, and before a promote the old one. */
  sources: SnapshotSource[]
  /** Set by a promote (sites/mirror-state.ts): kept in every state the refresh writes. */
  follows?: MirrorFollows
  lag: MirrorLag
  now: Date
  python: string
  exec: Executor
  reporter: Reporter
  previous?: MirrorState
  snapshot?: string
  manifest?: SnapshotManifest
  /** `refresh`, or why nothing is done. */
  action: 'refresh' | 'unchanged' | 'waiting'
  /** Whether the mirror's data was swapped (and not put back). */
  touched: boolean
  placed: FolderPlacement[]
  notes: string[]
  /** The operation (its id names the staged copies; its journal gets the swap's intent). */
  op: OperationContext
  stagedDatabase?: { scratch: string; keep: string }
  stagedFolders: FolderSwapPlan[]
  intent?: SwapIntent
}

const refreshing = (c: MirrorContext) => c.action === 'refresh'

function mirrorSteps(): Step<MirrorContext>[] {
  return [
    {
      name: 'choose-snapshot',
      title: 'choose the newest snapshot of the source site that is at least the lag old',
      run: async c => chooseSnapshot(c)
    },
    {
      name: 'forget-shown',
      title: 'record that the mirror is being refreshed (it shows no known snapshot until done)',
      when: refreshing,
      run: async c => {
        await writeMirrorState(
          c.exec,
          c.req.site,
          {
            from: c.source.name,
            snapshot: null,
            takenAt: null,
            refreshedAt: c.now.toISOString(),
            lag: c.lag.text,
            refreshing: c.snapshot!,
            ...(c.follows && { follows: c.follows })
          },
          c.python
        )
      },
      undo: async c => {
        // Nothing of the mirror's data changed yet: it still shows what it showed.
        if (c.touched) return
        if (c.previous) await writeMirrorState(c.exec, c.req.site, c.previous, c.python)
        else await c.exec.run(removeTree(mirrorStatePath(c.req.site)))
      }
    },
    {
      name: 'stage-database',
      title:
        "restore the snapshot's dump into a scratch database beside the mirror's; its tables must match the snapshot's checksums",
      when: c => refreshing(c) && !!c.manifest?.database && !!c.req.site.database,
      run: async c => {
        const { db, engine } = mirrorDatabase(c)
        const dir = snapshotPaths(siteLayout(c.source.root).snapshots, c.snapshot!).dir
        c.stagedDatabase = databaseSwapNames(db, engine.nameBytes, c.op.opId)
        const scratch = { ...db, name: c.stagedDatabase.scratch }
        if (await engine.exists(c.exec, scratch)) await engine.drop(c.exec, scratch)
        try {
          return await stageDatabase(c, engine, db, scratch, dir)
        } catch (e) {
          // A step's own undo runs only once it has finished: the copy is dropped here.
          await engine.drop(c.exec, scratch).catch(() => undefined)
          throw e
        }
      },
      undo: async c => {
        const { db, engine } = mirrorDatabase(c)
        const scratch = { ...db, name: c.stagedDatabase!.scratch }
        if (await engine.exists(c.exec, scratch)) await engine.drop(c.exec, scratch)
      }
    },
    {
      name: 'stage-files',
      title: "copy the snapshot's data folders into hidden siblings of the mirror's",
      when: c => refreshing(c) && c.placed.length > 0,
      run: async c => {
        const dir = snapshotPaths(siteLayout(c.source.root).snapshots, c.snapshot!)
        const parts = swapPartsOf(c)
        for (const p of c.placed) {
          const { staged, aside } = folderSiblings(p.target, c.op.opId)
          await c.exec.run(removeTree(staged, aside))
          await c.exec.run(makeDirs([p.target.slice(0, p.target.lastIndexOf('/')) || '/'], '755'))
          // Copied, never hard-linked: the mirror's application must not be able to change
          // the snapshot's files.
          await c.exec.run(
            p.file
              ? rsyncFileTo(dir.folder(p.name), staged)
              : cmd([
                  'rsync',
                  '-a',
                  '--delete',
                  '--numeric-ids',
                  '--',
                  `${dir.folder(p.name)}/`,
                  `${staged}/`
                ])
          )
          await ownStagedShared(c.exec, c.req.site, p.target, staged, m => c.reporter.warn(m))
          c.stagedFolders.push({
            target: p.target,
            staged,
            aside,
            stagedId: await stagedIdentity(parts, staged)
          })
        }
        return c.placed.map(p => p.target).join(', ')
      },
      undo: async c => {
        const staged = c.stagedFolders.map(f => f.staged)
        if (staged.length) await c.exec.run(removeTree(...staged))
        c.stagedFolders = []
      }
    },
    {
      name: 'swap-data',
      title:
        'swap the staged database and folders in at one step, the previous ones kept until the end (the intent journaled first)',
      when: c => refreshing(c) && (!!c.stagedDatabase || c.stagedFolders.length > 0),
      run: async c => {
        const intent: SwapIntent = {
          ...(c.stagedDatabase && {
            database: await databasePlan(swapPartsOf(c), c.stagedDatabase)
          }),
          folders: c.stagedFolders
        }
        await c.op.journal.append({ id: c.op.opId, op: 'mirror', event: 'intent', intent })
        c.intent = intent
        c.touched = true
        const parts = swapPartsOf(c)
        const state = await readSiteState(c.exec, c.req.site, c.python)
        let notes: string[] = []
        try {
          await restoreWhileHeld(c.op, state, async () => {
            notes = await swapInData(parts, intent)
          })
        } catch (e) {
          await rollBackMirror(c)
          throw e
        }
        return notes.join('; ')
      },
      undo: async c => rollBackMirror(c)
    },
    {
      name: 'read-only-database',
      title: "make the mirror's database read-only for new sessions, where the engine can",
      when: c => refreshing(c) && !!c.manifest?.database && !!c.req.site.database,
      run: async c => {
        const { db, engine } = mirrorDatabase(c)
        if (!engine.makeReadOnly)
          return `${db.engine} has no per-database read-only mode: Apache's refusal of writes is the guard`
        return engine.makeReadOnly(c.exec, db)
      }
    },
    {
      name: 'record-shown',
      title: 'record which snapshot the mirror shows',
      when: refreshing,
      run: async c => {
        await writeMirrorState(
          c.exec,
          c.req.site,
          {
            from: c.source.name,
            snapshot: c.snapshot!,
            takenAt: parseSnapshotId(c.snapshot!)!.toISOString(),
            refreshedAt: c.now.toISOString(),
            lag: c.lag.text,
            ...(c.follows && { follows: c.follows })
          },
          c.python
        )
        return c.snapshot
      }
    },
    {
      name: 'reload-app',
      title: "restart the live slot's daemon processes, so none keeps the old data open",
      when: c => refreshing(c) && c.req.reload !== false,
      critical: false,
      run: async c => {
        const state = await readSiteState(c.exec, c.req.site, c.python)
        if (!state.initialized || !state.live) return 'no release live: nothing to restart'
        const slot = c.req.site.apache.mode === 'single' ? 'current' : state.liveSlot
        await restartSlotGroup(c.exec, c.req.site, c.python, slot)
        return `slot ${slot} restarted`
      }
    },
    {
      name: 'cleanup',
      title: 'drop the previous database and folders kept for the way back',
      when: c => !!c.intent,
      critical: false,
      run: async c => {
        const parts = swapPartsOf(c)
        return (await finishData(parts, c.intent!)).join(', ') || undefined
      }
    }
  ]
}

function engines(c: MirrorContext): (name: DatabaseConfig['engine']) => DatabaseEngine {
  return c.req.engines ?? getEngine
}

/** The mirror's database and folders, for the swap helpers of data-swap.ts. */
function swapPartsOf(c: MirrorContext): SwapParts {
  return swapParts(c.exec, c.req.site, c.python, c.reporter, engines(c))
}

/** The undo of swap-data: the mirror's previous database and folders back, while it is held. */
async function rollBackMirror(c: MirrorContext): Promise<void> {
  const parts = swapPartsOf(c)
  const state = await readSiteState(c.exec, c.req.site, c.python)
  await restoreWhileHeld(c.op, state, async () => {
    await rollBackData(parts, c.intent!)
  })
  c.touched = false
}

/** The names of a mirror refresh's steps, in order (SITECYCLE_FAULT_KILL_AFTER takes them). */
export function mirrorStepNames(): string[] {
  return mirrorSteps().map(s => s.name)
}

/** The plan of a mirror refresh, one line per step (for --dry-run and docs). */
export function mirrorPlan(): string[] {
  return describePlan(mirrorSteps())
}

function mirrorDatabase(c: MirrorContext): { db: DatabaseConfig; engine: DatabaseEngine } {
  const db: DatabaseConfig = { ...c.req.site.database!, python: c.python }
  return { db, engine: (c.req.engines ?? getEngine)(db.engine) }
}

async function chooseSnapshot(c: MirrorContext): Promise<string> {
  const { exec, source, req } = c
  const site = req.site
  c.previous = await readMirrorState(exec, site)
  const snapshotsDir = siteLayout(source.root).snapshots
  const owner = new Map<string, SiteConfig>()
  for (const from of c.sources)
    for (const s of await listSnapshotIds(exec, from.site, c.python)) {
      const t = parseSnapshotId(s.id)?.getTime()
      if (!s.complete || owner.has(s.id) || (from.upTo !== undefined && (t ?? 0) > from.upTo))
        continue
      owner.set(s.id, from.site)
    }
  const complete = [...owner.keys()].sort(
    (a, b) => parseSnapshotId(a)!.getTime() - parseSnapshotId(b)!.getTime()
  )
  const id = chooseMirrorSnapshot(complete, c.lag.seconds, c.now)
  if (!id) {
    c.action = 'waiting'
    const oldest = complete[0]
    const why = oldest
      ? `its oldest snapshot, ${oldest}, is ${describeAge(ageOf(oldest, c.now))} old`
      : `it has no snapshot in ${snapshotsDir} on ${exec.name} (take them with \`sitecycle snapshot ${source.name}\` or the backup workflow)`
    const note = `no snapshot of site ${source.name} is ${c.lag.text} old yet: ${why}; mirror ${site.name} keeps ${c.previous?.snapshot ?? 'what it has'}`
    c.reporter.warn(note)
    c.notes.push(note)
    return note
  }
  c.snapshot = id
  c.source = owner.get(id)!
  if (c.previous?.snapshot === id && c.previous.from === c.source.name) {
    c.action = 'unchanged'
    return `${id} (${describeAge(ageOf(id, c.now))} old): the mirror shows it already`
  }
  const manifest = await readManifest(exec, siteLayout(c.source.root).snapshots, id)
  if (!manifest)
    throw new SitecycleError(
      `snapshot ${id} of site ${c.source.name} lost its manifest on ${exec.name} while the mirror was refreshed (retention or a manual removal); run again`,
      'mirror'
    )
  c.manifest = manifest
  if (manifest.database && !site.database)
    throw new ConfigError(
      `snapshot ${id} of site ${c.source.name} holds a ${manifest.database.engine} database but mirror site ${site.name} has none: add sites.${site.name}.database (its own ${manifest.database.engine} database) to ${req.config.file}`,
      req.config.file
    )
  if (manifest.database && site.database && manifest.database.engine !== site.database.engine)
    throw new ConfigError(
      `snapshot ${id} of site ${c.source.name} holds a ${manifest.database.engine} dump but mirror site ${site.name} uses ${site.database.engine}: give sites.${site.name}.database the engine ${manifest.database.engine}`,
      req.config.file
    )
  if (!manifest.database && site.database)
    c.notes.push(
      `snapshot ${id} has no database: the mirror's database ${site.database.name} is left as it is`
    )
  const { placed, unplaced } = placeFolders(manifest, site)
  c.placed = placed
  if (unplaced.length)
    c.notes.push(
      `data folders of the snapshot with no place on the mirror (add them to sites.${site.name}.data): ${unplaced.join(', ')}`
    )
  c.action = 'refresh'
  return `${id} (${describeAge(ageOf(id, c.now))} old; the mirror showed ${c.previous?.snapshot ?? 'none'})`
}

function ageOf(id: string, now: Date): number {
  return Math.max(0, Math.round((now.getTime() - parseSnapshotId(id)!.getTime()) / 1000))
}

/** A site whose snapshots a mirror may show; `upTo`: only those taken at or before it (ms). */
interface SnapshotSource {
  site: SiteConfig
  upTo?: number
}

/**
 * The site a mirror follows: its `from:`, unless a promote moved it to the new production
 * (sites/mirror-state.ts); then the old production's snapshots taken up to the promote still
 * count, so the mirror keeps showing the past while the new production has none that old.
 */
async function followedSources(
  exec: Executor,
  config: SitecycleConfig,
  site: SiteConfig
): Promise<{ source: SiteConfig; sources: SnapshotSource[]; follows?: MirrorFollows }> {
  const { source } = mirrorSource(config, site)
  const follows = (await readMirrorState(exec, site))?.follows
  const known = (name: string) =>
    Object.hasOwn(config.sites, name) ? config.sites[name] : undefined
  const now = follows && known(follows.site)
  if (!follows || !now) return { source, sources: [{ site: source }] }
  const before = known(follows.before)
  return {
    source: now,
    sources: [
      { site: now },
      ...(before ? [{ site: before, upTo: new Date(follows.since).getTime() }] : [])
    ],
    follows
  }
}

/**
 * Restore the snapshot's dump into `scratch`, compare its tables with the manifest's checksums,
 * then give the mirror's reader (database.reader) read access there and check it, logged in as
 * it. Throws on any mismatch; the mirror's own database is not touched.
 */
async function stageDatabase(
  c: MirrorContext,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  scratch: DatabaseConfig,
  dir: string
): Promise<string> {
  // A stored (zstd) dump is decompressed into the mirror's own work directory (the
  // source's snapshots are only read), removed afterwards; a kill leaves it to recovery.
  const expected = await withMaterializedDump(
    c.exec,
    c.python,
    dir,
    c.manifest!,
    `${siteLayout(c.req.site.root).incoming}/${c.op.opId}-dump`,
    async path =>
      (
        await bothSettled(
          expectedTables(c.exec, engine, db, c.manifest!.database!, path),
          engine.restore(c.exec, scratch, path, c.reporter, { intoNew: true })
        )
      )[0]
  )
  const tables = compareTables(
    expected,
    await withStatistics(c.exec, engine, scratch, engine.checksums(c.exec, scratch))
  )
  const bad = tables.filter(t => !t.ok).map(t => t.table)
  if (bad.length)
    throw new SitecycleError(
      `the copy of snapshot ${c.snapshot} restored for mirror ${c.req.site.name} does not match the snapshot: tables ${bad.join(', ')} differ; ${db.name} was not touched`,
      'mirror'
    )
  const reader = c.req.site.database!.reader
  if (!reader || !engine.prepareReader)
    return `${db.engine} ${scratch.name}: ${tables.length} tables match`
  // The application's login gets read access on the copy, and is checked, before the swap.
  const access = await engine.prepareReader(c.exec, scratch, db, reader)
  const problem = readerProblem(reader.user, db.name, access)
  if (problem) throw new SitecycleError(`${problem}; ${db.name} was not touched`, 'mirror')
  return `${db.engine} ${scratch.name}: ${tables.length} tables match; its reader ${reader.user} reads them and may do nothing more`
}

/** The mirror must be on a host of its source: that is where the snapshots are. */
function requireSameHost(site: SiteConfig, source: SiteConfig): void {
  const here = hostLabel(site.host)
  const there = siteHosts(source).map(hostLabel)
  if (!there.includes(here))
    throw new ConfigError(
      `mirror site ${site.name} is on ${here} but its source ${source.name} is on ${there.join(', ')}: a mirror is refreshed from the snapshots on its source's host, so put sites.${site.name} on ${there[0]}`,
      undefined
    )
}

/**
 * Refresh a mirror site (see the module comment). Resolves with the outcome (`refreshed`,
 * `unchanged` or `waiting`); throws MirrorFailed when a step fails (the mirror's state then
 * names no snapshot, so the next run refreshes it whatever it finds), or SitecycleError for bad
 * input and a held lock, before anything is touched.
 */
export async function refreshMirror(req: MirrorRequest): Promise<MirrorOutcome> {
  const { config, site, exec, reporter } = req
  const { lag } = mirrorSource(config, site)
  const { source, sources, follows } = await followedSources(exec, config, site)
  for (const s of sources) requireSameHost(site, s.site)
  const db = site.database
  if (db?.passwordEnv) {
    const password = (req.env ?? process.env)[db.passwordEnv]
    if (!password)
      throw new SitecycleError(
        `the database password of site ${site.name} is not set: set the environment variable ${db.passwordEnv} (sites.${site.name}.database.password_env)`,
        'input'
      )
    reporter.addSecret(password)
  }
  if (db?.reader?.passwordEnv) {
    const password = (req.env ?? process.env)[db.reader.passwordEnv]
    if (!password)
      throw new SitecycleError(
        `the password of mirror ${site.name}'s reader ${db.reader.user} is not set: set the environment variable ${db.reader.passwordEnv} (sites.${site.name}.database.reader.password_env)`,
        'input'
      )
    reporter.addSecret(password)
  }
  if (db) (req.engines ?? getEngine)(db.engine) // an unknown engine fails here, before the host is touched
  const now = req.now?.() ?? new Date()
  let shownFrom: SiteConfig | undefined
  return withSiteOperation(
    { op: 'mirror', config, site, exec, reporter, lockWait: req.lockWait },
    { from: source.name, lag: lag.text },
    async op => {
      const c: MirrorContext = {
        req,
        source,
        sources,
        ...(follows && { follows }),
        lag,
        now,
        python: config.app.python,
        exec,
        reporter,
        action: 'waiting',
        touched: false,
        placed: [],
        notes: [],
        op,
        stagedFolders: []
      }
      let steps: StepReport[]
      try {
        steps = await runPipeline(mirrorSteps(), c, reporter, {
          onEvent: e => op.journal.append({ id: op.opId, op: 'mirror', event: 'step', ...e })
        })
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e
        if (e.failedStep === 'choose-snapshot' && e.cause instanceof SitecycleError) throw e.cause
        throw new MirrorFailed(
          `refresh of mirror ${site.name} from ${source.name} failed at step '${e.failedStep}': ${failureCause(e).split('\n')[0]}; ` +
            (c.touched
              ? `the mirror shows no known snapshot now (recorded in ${mirrorStatePath(site)}); the next run refreshes it again`
              : `the mirror still shows ${c.previous?.snapshot ?? 'what it showed'}`),
          e.failedStep,
          e.reports,
          e.undoComplete
        )
      }
      const shown = c.action === 'waiting' ? (c.previous?.snapshot ?? null) : c.snapshot!
      shownFrom = c.action === 'waiting' ? undefined : c.source
      const outcome: Omit<MirrorOutcome, 'release'> = {
        status: c.action === 'refresh' ? 'refreshed' : c.action,
        site: site.name,
        host: exec.name,
        from: source.name,
        lag: lag.text,
        snapshot: shown,
        takenAt: shown ? parseSnapshotId(shown)!.toISOString() : null,
        ageSeconds: shown ? ageOf(shown, now) : null,
        previousSnapshot: c.previous?.snapshot ?? null,
        url: site.url,
        steps,
        operationId: op.opId,
        notes: c.notes
      }
      return { ...outcome, journal: { snapshot: shown, previous: outcome.previousSnapshot } }
    }
  ).then(async ({ journal: _j, ...outcome }) => ({
    ...outcome,
    ...(await syncMirrorRelease(req, shownFrom ?? source, outcome.snapshot, outcome.notes))
  }))
}

/**
 * The release the mirror should serve with snapshot `shown`: the one live on the source when the
 * snapshot was taken, else the one live on the source now; null when neither is known.
 */
async function releaseFor(
  req: MirrorRequest,
  source: SiteConfig,
  shown: string
): Promise<string | null> {
  const manifest = await readManifest(req.exec, siteLayout(source.root).snapshots, shown)
  if (manifest?.live) return manifest.live
  return (await readSiteState(req.exec, source, req.config.app.python)).live
}

/**
 * Deploy to the mirror the release its data was made by, when it serves another (see the module
 * comment). Throws MirrorFailed naming the release when the deploy fails (the data is refreshed;
 * the previous release, if any, serves it).
 */
async function syncMirrorRelease(
  req: MirrorRequest,
  source: SiteConfig,
  shown: string | null,
  notes: string[]
): Promise<Pick<MirrorOutcome, 'release' | 'deployed'>> {
  const { site, exec, reporter, config } = req
  const state = await readSiteState(exec, site, config.app.python)
  if (req.deployRelease === false || !shown) return { release: state.live }
  if (!state.initialized) {
    const note = `mirror ${site.name} is not initialized at ${site.root} on ${exec.name}, so it serves nothing: run \`sitecycle init ${site.name}\` and refresh it again`
    reporter.warn(note)
    notes.push(note)
    return { release: null }
  }
  const wanted = await releaseFor(req, source, shown)
  if (!wanted || wanted === state.live) return { release: state.live }
  const from = {
    ...site,
    ...((site.releases ?? source.releases) !== undefined && {
      releases: site.releases ?? source.releases
    }),
    ...((site.store ?? source.store) !== undefined && { store: site.store ?? source.store })
  }
  if (!from.releases && !from.store)
    throw new MirrorFailed(
      `mirror ${site.name} shows snapshot ${shown} of ${source.name}, taken under release ${wanted}, but serves ${state.live ?? 'no release'}, and neither it nor ${source.name} has a releases folder or store to take ${wanted} from: set sites.${site.name}.store (or releases) in ${config.file}`,
      'deploy-release',
      [],
      true
    )
  reporter.info(
    `mirror ${site.name} serves ${state.live ?? 'no release'}; deploying ${wanted}, the release snapshot ${shown} was taken under`
  )
  try {
    const o = await deploy({
      config,
      site: from,
      exec,
      reporter,
      version: wanted,
      ...(req.lockWait !== undefined && { lockWait: req.lockWait }),
      ...(req.env && { env: req.env })
    })
    notes.push(
      `release ${wanted} deployed to mirror ${site.name} (it served ${state.live ?? 'none'})`
    )
    return { release: o.version, deployed: wanted }
  } catch (e) {
    if (!(e instanceof OperationFailed) && !(e instanceof SitecycleError)) throw e
    throw new MirrorFailed(
      `mirror ${site.name} shows snapshot ${shown} of ${source.name}, but deploying its release ${wanted} failed: ${e.message.split('\n')[0]}; ${state.live ? `${state.live} serves it meanwhile` : 'it serves no release'}`,
      'deploy-release',
      e instanceof OperationFailed ? e.outcome.steps : [],
      e instanceof OperationFailed ? e.outcome.undoComplete : true
    )
  }
}
