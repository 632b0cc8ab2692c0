/**
 * `sitecycle snapshots`: the snapshots of a site with their age and size, read from the host
 * (directory listing, manifests, one `du` over them all). Read only: takes no lock.
 */
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout } from '../sites/layout.js'
import { incrementalSizes, listSnapshotDirs, parseDu, type SnapshotDirEntry } from './files.js'
import { parseManifest, snapshotPaths, type SnapshotManifest } from './manifest.js'
import { isSnapshotId, parseSnapshotId } from './retention.js'

/** One snapshot as listed. */
export interface SnapshotInfo {
  id: string
  /** When it was taken (from its id), ISO 8601. */
  takenAt: string
  /** Seconds between then and `now`. */
  ageSeconds: number
  /** False: no manifest, an interrupted snapshot (removed by the next snapshot run). */
  complete: boolean
  /** The release live when it was taken (complete snapshots). */
  live: string | null
  /** Its manifest's format: 2 has per-file sums and SHA256SUMS, 1 (older) has not. */
  format: number | null
  /** Dump plus files, as the manifest counts them (what a restore reads). */
  bytes: number | null
  /** Disk space this snapshot adds to the older ones (files hard-linked to them are not counted). */
  diskBytes: number
  database: { engine: string; size: number; tables: number } | null
  files: { count: number; bytes: number } | null
}

/** Read a snapshot's manifest; undefined when it has none (incomplete or no such snapshot). */
export async function readManifest(
  exec: Executor,
  snapshotsDir: string,
  id: string
): Promise<SnapshotManifest | undefined> {
  const path = snapshotPaths(snapshotsDir, id).manifest
  const text = await exec.readFile(path)
  return text === undefined ? undefined : parseManifest(text, `${path} on ${exec.name}`)
}

/** The snapshot directories of a site, oldest first, complete or not; other names are skipped. */
export async function listSnapshotIds(
  exec: Executor,
  site: SiteConfig,
  python: string,
  /** Another directory to list instead (the hidden bases: dump-store.ts). */
  dir: string = siteLayout(site.root).snapshots
): Promise<{ id: string; complete: boolean }[]> {
  const r = await exec.run(listSnapshotDirs(python, dir))
  return snapshotIdsOf(JSON.parse(r.stdout) as SnapshotDirEntry[])
}

/** The snapshots among a directory's entries, oldest first; other names are skipped. */
export function snapshotIdsOf(entries: SnapshotDirEntry[]): { id: string; complete: boolean }[] {
  return entries
    .filter(e => isSnapshotId(e.name))
    .map(e => ({ id: e.name, complete: e.complete }))
    .sort((a, b) => byTime(a.id, b.id))
}

function byTime(a: string, b: string): number {
  return parseSnapshotId(a)!.getTime() - parseSnapshotId(b)!.getTime() || a.localeCompare(b)
}

/** Every snapshot of a site, oldest first, with age and sizes. */
export async function listSnapshots(
  exec: Executor,
  site: SiteConfig,
  python: string,
  now: Date = new Date()
): Promise<SnapshotInfo[]> {
  const dir = siteLayout(site.root).snapshots
  const ids = await listSnapshotIds(exec, site, python)
  if (!ids.length) return []
  const du = parseDu(
    (await exec.run(incrementalSizes(ids.map(s => snapshotPaths(dir, s.id).dir)))).stdout
  )
  const out: SnapshotInfo[] = []
  for (const s of ids) {
    const taken = parseSnapshotId(s.id)!
    const m = s.complete ? await readManifest(exec, dir, s.id) : undefined
    out.push({
      id: s.id,
      takenAt: taken.toISOString(),
      ageSeconds: Math.max(0, Math.round((now.getTime() - taken.getTime()) / 1000)),
      complete: s.complete,
      live: m?.live ?? null,
      format: m?.format ?? null,
      bytes: m ? (m.database?.size ?? 0) + m.files.bytes : null,
      diskBytes: du.find(d => d.path === snapshotPaths(dir, s.id).dir)?.bytes ?? 0,
      database: m?.database
        ? { engine: m.database.engine, size: m.database.size, tables: m.database.tables.length }
        : null,
      files: m ? { count: m.files.count, bytes: m.files.bytes } : null
    })
  }
  return out
}

/** `3d 4h`, `5h 2m`, `42s`: an age for people. */
export function describeAge(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m`
  return `${seconds}s`
}

/** `1.5 MB`, `12 KB`, `900 B` (powers of 1024). */
export function describeBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

/** The table `sitecycle snapshots` prints. */
export function formatSnapshotList(site: string, list: SnapshotInfo[]): string {
  if (!list.length) return `site ${site} has no snapshots`
  const rows = list.map(s => [
    s.id,
    describeAge(s.ageSeconds),
    s.bytes === null ? '-' : describeBytes(s.bytes),
    describeBytes(s.diskBytes),
    s.live ?? '-',
    s.complete ? '' : 'incomplete'
  ])
  const header = ['snapshot', 'age', 'size', 'on disk', 'live', '']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  return [header, ...rows]
    .map(r =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd()
    )
    .join('\n')
}
