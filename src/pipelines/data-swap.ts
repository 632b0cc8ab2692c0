/**
 * The commit point of a restore or sync. Everything new is staged beside the site first (the
 * database restored into a scratch database and anonymised there, each data folder copied into a
 * hidden sibling); then one step swaps them all in, the previous database kept under another
 * name and the previous folders kept as hidden siblings. Until the run ends, the way back is
 * kept, so the site holds either all of its previous data or all of the new, never a mix:
 *
 * - a failure after the swap swaps everything back (rollBackData);
 * - a run killed anywhere leaves its intent in the journal (written before the swap), and
 *   whichever operation comes next finds it (recover.ts) and puts the site back the same way,
 *   deciding from what is on the host (engine.swapDone, the folders' inodes), not from how far
 *   the journal got;
 * - only a run whose data was verified is finished forward (finishData drops what was kept).
 *
 * Names are fixed by the operation id, so the recovery finds them without anything else. A shared
 * entry of kind file takes the same path as a folder: staged as a hidden sibling file, swapped
 * by the same renames (rename and RENAME_EXCHANGE work on files), its way back kept aside, told
 * apart by its inode.
 */
import swapFolderProgram from '../host/swap-folder.py'
import { cmd } from '../commands/command.js'
import { pathIdentities, removeTree, renamePath } from '../commands/files.js'
import { scratchDatabaseName } from '../commands/databases/names.js'
import type { SiteConfig } from '../config/model.js'
import type { DatabaseConfig, DatabaseEngine } from '../databases/engine.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'

/** The database part of a swap: the target, the staged copy, and where the previous goes. */
export interface DatabaseSwapPlan {
  /** The site's database (a name, or a file for sqlite). */
  name: string
  /** The staged copy (restored, checked, anonymised) that takes its place. */
  scratch: string
  /** Where the previous content is kept until the run ends. */
  keep: string
  /** engine.identity of the staged copy: after the swap it is the target's (absent: mysql). */
  stagedId?: string
  /** Whether the target existed before the swap (absent in intents of older versions). */
  hadPrevious?: boolean
}

/** One data folder of a swap. */
export interface FolderSwapPlan {
  target: string
  /** The hidden sibling the new content was copied into. */
  staged: string
  /** The hidden sibling the previous content is kept in until the run ends. */
  aside: string
  /** `device:inode` of the staged folder: after the swap it is the target's. */
  stagedId: string
}

/** What a run swaps in, as written to the journal before the swap. */
export interface SwapIntent {
  database?: DatabaseSwapPlan
  folders: FolderSwapPlan[]
}

function shortOpId(opId: string): string {
  return opId.replace(/[^0-9A-Za-z]/g, '').toLowerCase()
}

/** The scratch and keep names of a site's database for operation `opId`. Pure. */
export function databaseSwapNames(
  db: Pick<DatabaseConfig, 'engine' | 'name'>,
  nameBytes: number,
  opId: string
): { scratch: string; keep: string } {
  const id = shortOpId(opId)
  if (db.engine === 'sqlite') {
    const i = db.name.lastIndexOf('/')
    const dir = db.name.slice(0, i)
    const base = db.name.slice(i + 1)
    return { scratch: `${dir}/.${base}.sc-new-${id}`, keep: `${dir}/.${base}.sc-keep-${id}` }
  }
  return {
    scratch: scratchDatabaseName(db.name, 'new', id, nameBytes),
    keep: scratchDatabaseName(db.name, 'keep', id, nameBytes)
  }
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

/**
 * Host program, argv: staged, target, aside. Put the folder `staged` in the place of `target`:
 * with one renameat2(RENAME_EXCHANGE) where the kernel and filesystem allow it (readers see the
 * old folder or the new one, never none), else two renames; the previous content ends at
 * `aside`. Prints moved (no target before), exchanged or renamed.
 */
export const SWAP_FOLDER = swapFolderProgram

/** `python -c SWAP_FOLDER <staged> <target> <aside>` */
export function swapFolder(python: string, staged: string, target: string, aside: string) {
  return cmd([python, '-I', '-S', '-c', SWAP_FOLDER, staged, target, aside])
}

/** What the engine calls need: the site's database, with the host's Python. */
export interface SwapParts {
  exec: Executor
  python: string
  reporter: Reporter
  /** The site's database and its engine, when the swap has a database part. */
  db?: DatabaseConfig
  engine?: DatabaseEngine
}

async function identities(p: SwapParts, paths: string[]): Promise<(string | null)[]> {
  return JSON.parse((await p.exec.run(pathIdentities(p.python, paths))).stdout) as (string | null)[]
}

/** The `device:inode` of a staged folder, for the intent. */
export async function stagedIdentity(p: SwapParts, staged: string): Promise<string> {
  const [id] = await identities(p, [staged])
  if (!id) throw new Error(`the staged folder ${staged} is missing`)
  return id
}

/** The database part of an intent: the names, with what the rollback needs to tell where the
 * data is (the staged copy's identity, whether the target existed). Read just before the swap. */
export async function databasePlan(
  p: SwapParts,
  names: { scratch: string; keep: string }
): Promise<DatabaseSwapPlan> {
  const { exec, db, engine } = p
  if (!db || !engine) throw new Error('databasePlan: the site has no database')
  const stagedId = engine.identity ? await engine.identity(exec, db, names.scratch) : null
  // No identity: the copy is missing, or the engine cannot tell (mysql, at times: swapDone then).
  if (stagedId === null && !(await engine.exists(exec, { ...db, name: names.scratch })))
    throw new Error(`the staged copy ${names.scratch} is missing`)
  return {
    name: db.name,
    ...names,
    ...(stagedId !== null && { stagedId }),
    hadPrevious: await engine.exists(exec, db)
  }
}

/**
 * Whether the target holds the staged copy now: by identity where the engine has one (so it is
 * known even when the previous content kept aside is gone), else as the engine's swapDone says.
 */
async function databaseSwapped(p: SwapParts, d: DatabaseSwapPlan): Promise<boolean> {
  const { exec, db, engine } = p
  if (d.stagedId && engine!.identity) {
    if ((await engine!.identity(exec, db!, d.name)) === d.stagedId) return true
    // An identity that a hook's migration changes (mysql) proves the swap only when it matches.
    if (!engine!.identityChangesInPlace) return false
  }
  return engine!.swapDone(exec, db!, d.scratch, d.keep)
}

/** Swap everything of `intent` in: the database, then each folder. Returns one note each. */
export async function swapInData(p: SwapParts, intent: SwapIntent): Promise<string[]> {
  const notes: string[] = []
  if (intent.database && p.db && p.engine) {
    const d = intent.database
    const replaced = await p.engine.swapIn(p.exec, p.db, d.scratch, d.keep, p.reporter)
    notes.push(
      replaced
        ? `database ${d.name} swapped in (previous kept as ${d.keep})`
        : `database ${d.name} created`
    )
  }
  for (const f of intent.folders) {
    const how = (await p.exec.run(swapFolder(p.python, f.staged, f.target, f.aside))).stdout.trim()
    notes.push(`${f.target} ${how}`)
  }
  return notes
}

/**
 * Put back what `intent` swapped in, as far as it got, deciding from what is on the host: the
 * previous database and folders return to their places, the staged copies are removed. Safe to
 * run whatever point the swap (or an earlier rollback) reached. Returns what it did.
 */
export async function rollBackData(p: SwapParts, intent: SwapIntent): Promise<string[]> {
  const notes: string[] = []
  // Folders first, in reverse (the database swap came first).
  for (const f of [...intent.folders].reverse()) {
    const undo = `${f.aside}-undo`
    const [target, staged, aside] = await identities(p, [f.target, f.staged, f.aside])
    if (target !== null && target === f.stagedId) {
      // Swapped: the previous content is aside, or still at the staged name when the kill came
      // between the exchange and the rename that follows it; none: there was no folder before.
      const previous = aside !== null ? f.aside : staged !== null ? f.staged : null
      if (previous === null) {
        await p.exec.run(removeTree(f.target))
        notes.push(`${f.target} removed (it did not exist before)`)
      } else {
        await p.exec.run(swapFolder(p.python, previous, f.target, undo))
        await p.exec.run(removeTree(undo))
        notes.push(`${f.target} put back`)
      }
    } else if (target === null && aside !== null) {
      // Killed between the two renames of the fallback: the previous content is aside.
      await p.exec.run(renamePath(f.aside, f.target))
      notes.push(`${f.target} put back`)
    }
    // Whatever is left at these names now is the new content (or nothing).
    await p.exec.run(removeTree(f.staged, f.aside, undo))
  }
  if (intent.database && p.db && p.engine) {
    const d = intent.database
    const { engine, db, exec } = p
    if (await databaseSwapped(p, d)) {
      const kept = await engine.exists(exec, { ...db, name: d.keep })
      if (kept) {
        // The staged copy is the target now; swapping `keep` back moves it to the scratch name
        // (mysql leaves an emptied scratch database behind: dropped first).
        const scratch = { ...db, name: d.scratch }
        if (await engine.exists(exec, scratch)) await engine.drop(exec, scratch)
        await engine.swapIn(exec, db, d.keep, d.scratch, p.reporter)
        notes.push(`database ${d.name} put back`)
      } else if (d.hadPrevious === false) {
        await engine.drop(exec, db)
        notes.push(`database ${d.name} dropped (it did not exist before)`)
      } else {
        // Never guess: the new data stays, and the site with it behind the maintenance page.
        throw new SitecycleError(
          `${d.name} holds the new data, and its previous content, kept as ${d.keep}, is gone`,
          'database'
        )
      }
    }
    for (const name of [d.scratch, d.keep]) {
      const other = { ...db, name }
      if (await engine.exists(exec, other)) await engine.drop(exec, other)
    }
  }
  return notes
}

/** The run is complete: drop what was kept for the way back. Returns what it removed. */
export async function finishData(p: SwapParts, intent: SwapIntent): Promise<string[]> {
  const notes: string[] = []
  if (intent.database && p.db && p.engine) {
    for (const name of [intent.database.keep, intent.database.scratch]) {
      const other = { ...p.db, name }
      if (await p.engine.exists(p.exec, other)) {
        await p.engine.drop(p.exec, other)
        notes.push(`dropped ${name}`)
      }
    }
  }
  const leftovers = intent.folders.flatMap(f => [f.aside, f.staged])
  if (leftovers.length) await p.exec.run(removeTree(...leftovers))
  if (intent.folders.length) notes.push(`removed ${intent.folders.length} previous folder(s)`)
  return notes
}

/** The swap parts of a site (its database, if any, with the host's Python). */
export function swapParts(
  exec: Executor,
  site: SiteConfig,
  python: string,
  reporter: Reporter,
  engines: (name: DatabaseConfig['engine']) => DatabaseEngine
): SwapParts {
  if (!site.database) return { exec, python, reporter }
  return {
    exec,
    python,
    reporter,
    db: { ...site.database, python },
    engine: engines(site.database.engine)
  }
}
