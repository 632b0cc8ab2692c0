/**
 * The tables a snapshot holds, as its restore would compare them: the manifest's, or for a sqlite
 * snapshot the dump's own checksums, read from the dump (materialised through its base when it is
 * stored as a delta, then removed).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { DatabaseConfig, TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import type { Executor } from '../../src/hosts/executor.js'
import { withMaterializedDump } from '../../src/snapshots/dump-store.js'
import type { SnapshotManifest } from '../../src/snapshots/manifest.js'
import { expectedTables } from '../../src/snapshots/verify.js'

export async function snapshotTables(
  exec: Executor,
  db: DatabaseConfig,
  snapDir: string,
  manifest: SnapshotManifest
): Promise<TableChecksum[]> {
  return withMaterializedDump(
    exec,
    '/usr/bin/python3',
    snapDir,
    manifest,
    `${snapDir}.tables-check`,
    path => expectedTables(exec, getEngine(db.engine), db, manifest.database!, path)
  )
}

/**
 * The plain dump file of a single-file (sqlite, mysql) snapshot at `snapDir`: `database.dump`
 * itself, or a stored delta (`database.dump.zst`) decompressed through its base (a sibling, or
 * kept hidden under .bases) with the README's standard command, beside the snapshot.
 */
export function plainDumpOf(snapDir: string, manifest: SnapshotManifest): string {
  const record = manifest.database!
  if (record.dump === 'database.dump') return join(snapDir, 'database.dump')
  const parent = dirname(snapDir)
  const base = [join(parent, record.store!.base!), join(parent, '.bases', record.store!.base!)]
    .map(d => join(d, 'database.dump'))
    .find(f => existsSync(f))!
  const out = `${snapDir}.plain-dump`
  execFileSync('zstd', [
    '-q',
    '-f',
    '-d',
    '--long=31',
    `--patch-from=${base}`,
    join(snapDir, record.dump),
    '-o',
    out
  ])
  return out
}
