/**
 * A production restore killed half-way, for real (SQLite and PostgreSQL, a private Apache, the
 * bundled CLI): a restore SIGKILLed after every one of its steps (SITECYCLE_FAULT_KILL_AFTER) and
 * followed by another kind of operation (deploy, snapshot, maintenance off, the same operation
 * again; rotating, so every step and every kind is covered), and one killed while pg_restore
 * loads. Checked by query and on disk afterwards: the database, the data folders and the shared
 * file all as before, or all restored (a run that had verified its data is finished, an earlier
 * one undone); the next operation reports the recovery, the site is open again, and no staged or
 * kept copy is left. The sync killed the same way: data-interrupted-sync.test.ts.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { restoreSteps } from '../../src/pipelines/restore.js'
import {
  parseManifest,
  renderManifest,
  type SnapshotManifest
} from '../../src/snapshots/manifest.js'
import { digestOfDumpFiles, type FileSum } from '../../src/snapshots/sums.js'
import { expectExit } from '../helpers/cli.js'
import { snapshotTables } from '../helpers/snapshot-tables.js'
import {
  dataKillSites,
  DataKillSites,
  inDoubtCases,
  exec,
  killWhileLoading,
  PAIRS,
  type Pair
} from '../helpers/data-kill-sites.js'

// Production sites only: a restore needs no preview.
const s = dataKillSites({ previews: false })

// Production has no hooks (and the snapshot was taken under the live release): no hooks step.
const STEPS = restoreSteps()
  .map(st => st.name)
  .filter(st => st !== 'hooks')
const VERIFIED = STEPS.indexOf('verify')

/**
 * Take a snapshot of `p.prod`, change its data, kill a restore of that snapshot after `step`
 * (`n`: a number no other kill of the file uses), run `next` (built from the snapshot's id), and
 * check production: all as before or all restored, and the snapshots kept.
 */
async function killThen(
  p: Pair,
  step: string,
  n: number,
  nextOf: (snapshot: string) => string[]
): Promise<void> {
  await writeFile(s.iniOf(p.prod), `in snapshot ${n}\n`)
  const snap = await s.snapshot(p.prod)
  // sqlite: the manifest lists the tables; their checksums are the dump's own.
  const snapTables = await snapshotTables(exec, s.dbOf(p.prod), snap.dir, snap.manifest)
  const snapFiles = await s.uploadsOf(p.prod)
  s.sql(
    p.prod,
    `INSERT INTO posts (id, user_id, body) VALUES (${500 + n}, 2, 'after the snapshot');`
  )
  await writeFile(join(s.dir, p.prod, 'shared', 'uploads', `later-${n}.txt`), 'later\n')
  await writeFile(s.iniOf(p.prod), `after snapshot ${n}\n`)
  const before = await s.checksums(p.prod)
  const beforeFiles = await s.uploadsOf(p.prod)

  const killed = await s.cli(['restore', p.prod, '--snapshot', snap.id], {
    SITECYCLE_FAULT_KILL_AFTER: step
  })
  expect(killed.signal).toBe('SIGKILL')

  const next = nextOf(snap.id)
  const r = await s.cli(next)
  expectExit(r, 0)
  expect(r.stderr).toMatch(/did not finish: recovering/)
  // What it did with the killed run: nothing to undo, undone, or finished.
  expect(r.stderr).toMatch(DataKillSites.recoveryReport('restore', STEPS, step))
  // No stack trace, no host program text (each begins "# host/<name>.py").
  expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)

  const restored = STEPS.indexOf(step) >= VERIFIED || next[0] === 'restore'
  expect(await s.checksums(p.prod)).toEqual(restored ? snapTables : before)
  expect(await s.uploadsOf(p.prod)).toEqual(restored ? snapFiles : beforeFiles)
  // The shared file with them: the snapshot's or the one before, never missing or mixed.
  expect(await s.readIni(p.prod)).toBe(restored ? `in snapshot ${n}\n` : `after snapshot ${n}\n`)
  expect(await s.frozen(p.prod)).toBe(false)
  expect(await s.leftovers(p.prod)).toEqual([])
  // The snapshot restored from is kept whole (a snapshot of a mixed state made no room for
  // itself by removing it): every file as its SHA256SUMS says.
  expect(snapshotsCheck(p.prod)[snap.id]).toBe('OK')
}

describe.each(PAIRS)('$engine: a production restore killed after each step', p => {
  test.each(STEPS.map((st, i) => [st, i]))(
    'killed after %s, then another operation: database, folders and shared file all as before, or all restored',
    async (step, i) => {
      await killThen(p, step, i, id => s.followUp(i, p.prod, ['restore', p.prod, '--snapshot', id]))
    }
  )
})

describe.each(PAIRS)(
  '$engine: a restore killed with its data in doubt (swapped in, not verified), then each kind of operation',
  p => {
    // The rotation above gives each step one kind of operation; here every kind follows each of
    // these steps (the case of the issue: killed after the database swap, then a snapshot or
    // maintenance off, which must never snapshot or open a mixed production).
    test.each(inDoubtCases(STEPS, 'restore').map(c => [c.step, c.label, c]))(
      'killed after %s, then %s',
      async (...args) => {
        const c = args[2] as ReturnType<typeof inDoubtCases>[number]
        await killThen(p, c.step, c.n, id =>
          s.followUp(c.kind, p.prod, ['restore', p.prod, '--snapshot', id])
        )
      }
    )
  }
)

describe('postgres: a restore killed while pg_restore loads the staged copy (not at a step boundary)', () => {
  const p = PAIRS.find(x => x.engine === 'postgres')!

  test('production as before, and the next operation drops the scratch database', async () => {
    const snap = await s.snapshot(p.prod)
    s.sql(p.prod, "INSERT INTO posts (id, user_id, body) VALUES (900, 2, 'after the snapshot');")
    const before = await s.checksums(p.prod)
    await killWhileLoading(s, ['restore', p.prod, '--snapshot', snap.id])
    expect(await s.checksums(p.prod)).toEqual(before)

    const r = await s.cli(['maintenance', 'off', p.prod])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(await s.leftovers(p.prod)).toEqual([])
    expect(await s.checksums(p.prod)).toEqual(before)
    expect(await s.frozen(p.prod)).toBe(false)
  })
})

/** Every snapshot of a site as `sha256sum -c SHA256SUMS` finds it (run in each snapshot). */
function snapshotsCheck(site: string): Record<string, string> {
  const top = join(s.dir, site, 'snapshots')
  const out: Record<string, string> = {}
  for (const id of readdirSync(top).filter(n => !n.startsWith('.'))) {
    try {
      execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: join(top, id) })
      out[id] = 'OK'
    } catch (e) {
      out[id] = String((e as { stdout?: Buffer }).stdout ?? e)
    }
  }
  return out
}

/**
 * Rewrite a snapshot's dump in place, then write the new sha256 of each file changed everywhere the
 * snapshot records it (the dump's files and sha256 in the manifest, SHA256SUMS, the manifest's
 * sha256 of SHA256SUMS): a dump that passes every hash. `rewrite` gets the dump's files and the
 * manifest; it returns the paths it changed.
 */
async function rewritePassingItsHash(
  snapDir: string,
  rewrite: (files: FileSum[], m: SnapshotManifest) => Promise<string[]>
): Promise<string[]> {
  const mPath = join(snapDir, 'manifest.json')
  const m = parseManifest(await readFile(mPath, 'utf8'), mPath)
  const files = m.database!.files!
  const wasDigest = m.database!.sha256 === digestOfDumpFiles(files)
  const changed = await rewrite(files, m)
  const sumsPath = join(snapDir, 'SHA256SUMS')
  let sums = await readFile(sumsPath, 'utf8')
  for (const path of changed) {
    const bytes = await readFile(join(snapDir, path))
    const sha = createHash('sha256').update(bytes).digest('hex')
    sums = sums
      .split('\n')
      .map(l => (l.slice(66) === path ? `${sha}  ${path}` : l))
      .join('\n')
    const f = files.find(x => x.path === path)!
    f.sha256 = sha
    f.size = bytes.length
  }
  await writeFile(sumsPath, sums)
  m.database!.sha256 = wasDigest ? digestOfDumpFiles(files) : files[0].sha256
  if (files.length === 1) m.database!.size = files[0].size
  m.sums!.sha256 = createHash('sha256').update(sums).digest('hex')
  await writeFile(mPath, renderManifest(m))
  return changed
}

/**
 * Damage the largest stored table file (else the dump file) in place; its hashes rewritten. A
 * single-file dump stored as a delta (sqlite, mysql: database.dump.zst) is damaged in what it
 * holds: decompressed through its base, damaged, made a delta against the same base again.
 */
async function corruptPassingItsHash(
  snapDir: string,
  damage: (bytes: Buffer) => void
): Promise<string> {
  const [path] = await rewritePassingItsHash(snapDir, async (files, m) => {
    const single = m.database!.dump === 'database.dump.zst'
    // A stored table file when there is one (zstd), else the dump file itself.
    const stored = files.filter(f => f.path.endsWith('.zst'))
    const victim = [...(stored.length ? stored : files)].sort((a, b) => b.size - a.size)[0]
    const file = join(snapDir, victim.path)
    if (single) {
      const base = join(snapDir, '..', m.database!.store!.base!, 'database.dump')
      const plain = `${file}.plain`
      const zstd = (args: string[]) =>
        execFileSync('zstd', ['-q', '-f', '--long=31', `--patch-from=${base}`, ...args])
      zstd(['-d', file, '-o', plain])
      const bytes = await readFile(plain)
      damage(bytes)
      await writeFile(plain, bytes)
      zstd(['-1', plain, '-o', file])
      await rm(plain)
      return [victim.path]
    }
    const bytes = await readFile(file)
    damage(bytes)
    await writeFile(file, bytes)
    return [victim.path]
  })
  return path
}

describe.each(PAIRS)('$engine: a restore of a bad snapshot', p => {
  test('a corrupt dump that passes every hash: the restore fails in the scratch copy, production and the snapshots untouched', async () => {
    const snap = await s.snapshot(p.prod)
    const damaged = await corruptPassingItsHash(snap.dir, bytes => {
      // SQLite: the header of page 2, a table's root page (its page type and cell count); a
      // stored PostgreSQL table file: the middle of its zstd frame; MariaDB: the middle of the
      // dump's SQL.
      const at = p.engine === 'sqlite' ? bytes.readUInt16BE(16) : Math.floor(bytes.length / 2)
      for (let k = 0; k < 12; k++) bytes[at + k] ^= 0xa5
    })
    const before = await s.checksums(p.prod)
    const beforeFiles = await s.uploadsOf(p.prod)
    const beforeIni = await s.readIni(p.prod)
    const snapshots = snapshotsCheck(p.prod)
    expect(snapshots[snap.id]).toBe('OK') // every hash passes

    const r = await s.cli(['restore', p.prod, '--snapshot', snap.id])
    expectExit(r, 1)
    expect(r.stderr).toMatch(/check-snapshot ok/)
    // What is wrong, in words: no Python exception class, no progress line of zstd's, and none
    // of the dump's data (MariaDB's client quotes the statement it could not run).
    const says = {
      sqlite:
        /failed at step 'stage-database': database disk image is malformed \(the copy \S+database\.dump of sqlite database/,
      postgres: new RegExp(
        `failed at step 'stage-database': could not decompress the dump of snapshot ${snap.id} on local( \\(deltas against snapshot \\S+\\))?: zstd -d (--patch-from=\\S+ )?\\S+/${damaged.replace(/[.]/g, '\\.')} -o \\S+ failed: Decoding error \\(36\\) : (Restored data doesn't match checksum|Data corruption detected);`
      ),
      mysql:
        /failed at step 'stage-database': restore of \S+ into the scratch database \S+ on local failed: the mysql client could not load it: ERROR \d+ \(\w+\) at line \d+: .*'…'.* \(quoted values left out: they are the dump's data\);/
    }[p.engine]
    expect(r.stderr).toMatch(says)
    for (const row of ['hello', 'world', 'alice@example.org']) expect(r.stderr).not.toContain(row)
    expect(r.stderr).toContain(`site ${p.prod} holds its data from before, unchanged`)
    expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)
    expect(await s.checksums(p.prod)).toEqual(before)
    expect(await s.uploadsOf(p.prod)).toEqual(beforeFiles)
    expect(await s.readIni(p.prod)).toBe(beforeIni)
    expect(await s.frozen(p.prod)).toBe(false)
    expect(await s.leftovers(p.prod)).toEqual([])
    expect(snapshotsCheck(p.prod)).toEqual(snapshots)
    await rm(snap.dir, { recursive: true, force: true })
  })

  if (p.engine === 'postgres')
    test("a dump whose rows do not load (a value of the wrong type), its hashes rewritten: pg_restore's failure named, none of the rows in the error", async () => {
      const snap = await s.snapshot(p.prod)
      await rewritePassingItsHash(snap.dir, async (files, m) => {
        // The users table's file, decompressed (through its base when it is a delta), its first
        // row's id made a word, stored again as a full zstd file.
        const store = m.database!.store!
        for (const f of files.filter(x => x.path.endsWith('.dat.zst'))) {
          const name = f.path.split('/').pop()!
          const plain = join(s.dir, `plain-${name}`)
          const patch: string[] = []
          if (store.deltas.includes(name)) {
            const base = join(s.dir, p.prod, 'snapshots', store.base!, 'database.dump')
            const baseFile = join(s.dir, `base-${name}`)
            execFileSync('zstd', [
              '-q',
              '-f',
              '-d',
              '--long=31',
              join(base, store.bases?.[name] ?? name),
              '-o',
              baseFile
            ])
            patch.push(`--patch-from=${baseFile}`)
          }
          execFileSync('zstd', [
            '-q',
            '-f',
            '-d',
            '--long=31',
            ...patch,
            join(snap.dir, f.path),
            '-o',
            plain
          ])
          const text = await readFile(plain, 'utf8')
          if (!text.includes('@example.org')) continue
          await writeFile(plain, text.replace(/^(\d+)\t/, 'x$1\t'))
          execFileSync('zstd', ['-q', '-f', '-1', '--long=31', plain, '-o', join(snap.dir, f.path)])
          store.deltas = store.deltas.filter(d => d !== name)
          if (store.bases) delete store.bases[name]
          return [f.path]
        }
        throw new Error('no table file with the users in it')
      })
      const before = await s.checksums(p.prod)
      const r = await s.cli(['restore', p.prod, '--snapshot', snap.id])
      expectExit(r, 1)
      expect(r.stderr).toMatch(/check-snapshot ok/)
      // (with more than one job, a worker's death follows the COPY's failure)
      expect(r.stderr).toMatch(
        /pg_restore could not load it: pg_restore: error: COPY failed for table "users": ERROR: {2}invalid input syntax for type integer: "…"(; pg_restore: error: [^;(]*)* \(its DETAIL and CONTEXT lines left out: they quote the dump's data\)/
      )
      for (const row of ['@example.org', 'alice', '"x1"']) expect(r.stderr).not.toContain(row)
      expect(await s.checksums(p.prod)).toEqual(before)
      expect(await s.frozen(p.prod)).toBe(false)
      expect(await s.leftovers(p.prod)).toEqual([])
      await rm(snap.dir, { recursive: true, force: true })
    })

  test("a snapshot of the other engine's site copied in: refused before anything is touched, production and the snapshots as they were", async () => {
    const other = PAIRS.find(x => x.engine !== p.engine)!
    const snap = await s.snapshot(other.prod)
    // As an operator might: the other site's snapshot copied into this site's snapshots.
    const copy = join(s.dir, p.prod, 'snapshots', snap.id)
    execFileSync('cp', ['-a', snap.dir, copy])
    const before = await s.checksums(p.prod)
    const beforeFiles = await s.uploadsOf(p.prod)
    const snapshots = snapshotsCheck(p.prod)
    const journalBefore = (await s.journalOf(p.prod)).length

    const r = await s.cli(['restore', p.prod, '--snapshot', snap.id])
    expectExit(r, 2)
    expect(r.stderr).toContain(
      `holds a ${other.engine} database, but site ${p.prod} uses ${p.engine}: a dump restores into the same engine only`
    )
    expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)
    expect(await s.checksums(p.prod)).toEqual(before)
    expect(await s.uploadsOf(p.prod)).toEqual(beforeFiles)
    expect(await s.frozen(p.prod)).toBe(false)
    expect(await s.leftovers(p.prod)).toEqual([])
    expect(snapshotsCheck(p.prod)).toEqual(snapshots)
    // Nothing swapped, so nothing for the next operation to recover.
    const journal = await s.journalOf(p.prod)
    expect(journal.slice(journalBefore).filter(e => e.event === 'start')).toHaveLength(
      journal.slice(journalBefore).filter(e => e.event === 'end').length
    )
    await rm(copy, { recursive: true, force: true })
  })
})
