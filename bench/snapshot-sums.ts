/**
 * `node bench/snapshot-sums.mjs [--files N] [--kb K] [--snapshots S] [--changed P]`: what the
 * per-file sums of snapshots cost, and what reusing the previous snapshot's sums for hard-linked
 * files saves. Builds a data folder of N files of K KB in a temp dir, then S snapshot copies of
 * it made as sitecycle makes them (`rsync -a --link-dest` at the previous copy), P % of the
 * files rewritten before each. Prints `name value unit` lines:
 *
 * - `sha256sum_s`: bare `sha256sum` of every file of one copy (the floor for reading it all);
 * - `sums_full_s`: SNAPSHOT_SUMS `write` of the last copy with no previous snapshot (every byte
 *   read);
 * - `sums_reuse_s`: the same with the previous copy's sums (only the changed files read);
 * - `sums_reuse_ratio`: sums_reuse_s / sums_full_s;
 * - `rsync_link_dest_s`: the copy itself, for scale;
 * - `verify_one_s`, `verify_all_s`: SNAPSHOT_SUMS `hash` of the last copy, and of all S copies
 *   in one run (each hard-linked inode read once);
 * - `verify_all_ratio`: verify_all_s / verify_one_s.
 *
 * Page cache: every measurement after the first reads warm files; `--drop-caches` (root) drops
 * the cache before each one so they read from disk.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rsyncFolder } from '../src/snapshots/files.js'
import { hashSnapshotFiles, parseWrittenSums, writeSnapshotSums } from '../src/snapshots/sums.js'

const PY = '/usr/bin/python3'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

const files = arg('files', 2000)
const kb = arg('kb', 100)
const snapshots = arg('snapshots', 5)
const changedPct = arg('changed', 1)
const drop = process.argv.includes('--drop-caches')

function timed(argv: string[], opts: { cwd?: string } = {}): { s: number; stdout: string } {
  if (drop) writeFileSync('/proc/sys/vm/drop_caches', '3\n')
  const t = process.hrtime.bigint()
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 30
  })
  const s = Number(process.hrtime.bigint() - t) / 1e9
  if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stderr}`)
  return { s, stdout: r.stdout }
}

function line(name: string, value: number, unit: string): void {
  process.stdout.write(`${name} ${Number(value.toFixed(3))} ${unit}\n`)
}

const top = mkdtempSync(join(tmpdir(), 'sc-bench-sums-'))
try {
  const live = join(top, 'live')
  mkdirSync(live)
  for (let i = 0; i < files; i++) writeFileSync(join(live, `f${i}.bin`), randomBytes(kb * 1024))
  const dirs: string[] = []
  let rsyncS = 0
  let previous: { dir: string; sumsSha256: string } | undefined
  let full = 0
  let reuse = 0
  for (let n = 0; n < snapshots; n++) {
    if (n > 0)
      for (let i = 0; i < Math.ceil((files * changedPct) / 100); i++)
        writeFileSync(join(live, `f${(n * 7919 + i * 31) % files}.bin`), randomBytes(kb * 1024))
    const dir = join(top, `s${n}`)
    mkdirSync(join(dir, 'files'), { recursive: true })
    const linkDest = previous ? join(previous.dir, 'files', 'uploads') : undefined
    rsyncS = timed(rsyncFolder(live, join(dir, 'files', 'uploads'), linkDest).argv).s
    if (n === snapshots - 1 && previous) {
      // The same copy hashed both ways; the SHA256SUMS is the same either way.
      full = timed(writeSnapshotSums(PY, dir).argv).s
    }
    const r = timed(writeSnapshotSums(PY, dir, previous).argv)
    if (n === snapshots - 1) reuse = r.s
    previous = { dir, sumsSha256: parseWrittenSums(r.stdout).sha256 }
    dirs.push(dir)
  }
  const last = dirs[dirs.length - 1]
  const bare = timed(['sh', '-c', 'find files -type f -print0 | xargs -0 sha256sum > /dev/null'], {
    cwd: last
  }).s
  const one = timed(hashSnapshotFiles(PY, [{ dir: last, sums: true }]).argv).s
  const all = timed(
    hashSnapshotFiles(
      PY,
      dirs.map(dir => ({ dir, sums: true }))
    ).argv
  ).s
  line('data_mb', (files * kb) / 1024, 'MB')
  line('files', files, 'files')
  line('sha256sum_s', bare, 's')
  line('sums_full_s', full, 's')
  line('sums_reuse_s', reuse, 's')
  line('sums_reuse_ratio', reuse / full, 'ratio')
  line('rsync_link_dest_s', rsyncS, 's')
  line('verify_one_s', one, 's')
  line(`verify_all_s`, all, 's')
  line('verify_all_ratio', all / one, 'ratio')
  line('snapshots', snapshots, 'snapshots')
  execFileSync('true')
} finally {
  rmSync(top, { recursive: true, force: true })
}
