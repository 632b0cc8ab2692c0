/**
 * Every byte of a snapshot checked, for real: snapshots of a site with SQLite (and one with
 * PostgreSQL) carry a SHA256SUMS that the real `sha256sum -c` accepts; one byte flipped with
 * size and mtime kept (`touch -r`), in a data file hard-linked into three snapshots or in a
 * dump, makes verify fail naming the file for each snapshot holding it, and makes the check a
 * restore runs first refuse the dump. An older, format 1 snapshot still lists, verifies and
 * passes the restore check; the next snapshot after it hashes everything.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import type { Executor } from '../../src/hosts/executor.js'
import { checkSnapshotDump } from '../../src/snapshots/check-dump.js'
import { summarizeTree, type TreeSummary } from '../../src/snapshots/files.js'
import { listSnapshots } from '../../src/snapshots/list.js'
import {
  parseManifest,
  renderManifest,
  type SnapshotManifest
} from '../../src/snapshots/manifest.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot, verifySnapshots, VerifyFailed } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'

const PY = '/usr/bin/python3'
const SQLITE = '/usr/bin/sqlite3'

interface Site {
  dir: string
  root: string
  uploads: string
  file: string
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
}

async function makeSite(database: (root: string) => string): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-sums-'))
  await chmod(dir, 0o755)
  const root = join(dir, 'root')
  const uploads = join(root, 'shared', 'uploads')
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  await mkdir(join(uploads, 'avatars'), { recursive: true })
  await writeFile(join(uploads, 'avatars', 'alice.png'), randomBytes(50_000))
  await writeFile(join(uploads, 'report.pdf'), randomBytes(120_000))
  await writeFile(join(uploads, 'notes.txt'), 'version 0\n')
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  v1:
    root: ${root}
    url: http://127.0.0.1:9
    database: ${database(root)}
    data: [shared/uploads]
    snapshots: { keep_last: 10 }
`
  const file = join(dir, 'sitecycle.yml')
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  const site = config.sites.v1
  return { dir, root, uploads, file, config, site, exec: createExecutor(site.host, config.ssh) }
}

const t0 = new Date('2024-03-30T03:00:00Z')
const hours = (n: number) => () => new Date(t0.getTime() + n * 3600_000)
const quiet = () => new StreamReporter(() => undefined)
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Flip one byte in place (same inode), keeping size and mtime as they were. */
async function flipByte(path: string, at: number): Promise<void> {
  const ref = `${path}.ref`
  execFileSync('touch', ['-r', path, ref]) // remember the times
  const fd = await import('node:fs/promises').then(fs => fs.open(path, 'r+'))
  const b = Buffer.alloc(1)
  await fd.read(b, 0, 1, at)
  b[0] ^= 0x01
  await fd.write(b, 0, 1, at)
  await fd.close()
  execFileSync('touch', ['-r', ref, path])
  await rm(ref)
}

/** `sha256sum --quiet -c SHA256SUMS` run from the snapshot directory: the FAILED lines, or ''. */
function sha256sumCheck(dir: string): string {
  try {
    execFileSync('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: 'pipe'
    })
    return ''
  } catch (e) {
    return (e as { stdout: string }).stdout.trim()
  }
}

async function verifyError(p: Promise<unknown>): Promise<VerifyFailed> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x
  )
  expect(e).toBeInstanceOf(VerifyFailed)
  return e as VerifyFailed
}

describe('a site with SQLite: three snapshots sharing hard-linked files', () => {
  let s: Site
  const snaps: { id: string; dir: string; manifest: SnapshotManifest }[] = []
  beforeAll(async () => {
    s = await makeSite(root => `{ engine: sqlite, name: ${join(root, 'shared', 'app.sqlite3')} }`)
    execFileSync(SQLITE, [join(s.root, 'shared', 'app.sqlite3')], {
      input: `CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
        INSERT INTO posts (body) SELECT 'post ' || i FROM n;`
    })
    for (let i = 0; i < 3; i++) {
      await writeFile(join(s.uploads, 'notes.txt'), `version ${i + 1}, ${'x'.repeat(i)}\n`)
      const o = await takeSnapshot({
        ...s,
        reporter: quiet(),
        now: hours(i),
        progressIntervalMs: 0
      })
      snaps.push({ id: o.id, dir: o.dir, manifest: o.manifest })
      if (i > 0)
        expect(o.steps.find(st => st.name === 'write-sums')!.note).toMatch(
          new RegExp(`; 2 files \\(.*\\) hard-linked to ${snaps[i - 1].id} keep its sums$`)
        )
    }
  })
  afterAll(async () => {
    await s.exec.close()
    await rm(s.dir, { recursive: true, force: true })
  })

  test('each snapshot carries a SHA256SUMS that sha256sum -c accepts; the manifest holds plain sha256 and the sha256 of SHA256SUMS', async () => {
    for (const { dir, manifest } of snaps) {
      expect(manifest.format).toBe(3)
      expect(sha256sumCheck(dir)).toBe('')
      const sums = await readFile(join(dir, 'SHA256SUMS'))
      expect(manifest.sums).toMatchObject({ file: 'SHA256SUMS', sha256: sha256(sums), count: 4 })
      // The dump's sha256 is exactly what sha256sum prints for it: the copy as written in the
      // first (the base), a zstd delta against it in the others.
      const name = manifest === snaps[0].manifest ? 'database.dump' : 'database.dump.zst'
      expect(manifest.database!.dump).toBe(name)
      const dump = await readFile(join(dir, name))
      expect(manifest.database!.sha256).toBe(sha256(dump))
      expect(manifest.database!.files).toEqual([
        { path: name, size: dump.length, sha256: sha256(dump) }
      ])
      const report = await readFile(join(dir, 'files/shared/uploads/report.pdf'))
      expect(manifest.files.folders[0].files).toContainEqual({
        path: 'files/shared/uploads/report.pdf',
        size: 120_000,
        sha256: sha256(report)
      })
      expect(sums.toString()).toContain(`${sha256(report)}  files/shared/uploads/report.pdf\n`)
    }
    const ino = await Promise.all(
      snaps.map(x => stat(join(x.dir, 'files/shared/uploads/report.pdf')))
    )
    expect(new Set(ino.map(x => x.ino)).size).toBe(1)
    // All three verify in one run.
    const outcomes = await verifySnapshots({ ...s, reporter: quiet(), snapshots: 'all' })
    expect(outcomes.map(o => [o.snapshot, o.status, o.sums?.checked])).toEqual(
      snaps.map(x => [x.id, 'verified', 4])
    )
  })

  test('one byte flipped (size and mtime kept) in a file hard-linked into three snapshots: verify names it in each, and exits 1', async () => {
    const shared = join(snaps[0].dir, 'files/shared/uploads/report.pdf')
    const before = await stat(shared)
    await flipByte(shared, 60_000)
    const after = await stat(shared)
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs])
    try {
      const e = await verifyError(verifySnapshots({ ...s, reporter: quiet(), snapshots: 'all' }))
      expect(e.outcomes.map(o => o.status)).toEqual(['failed', 'failed', 'failed'])
      for (const [i, o] of e.outcomes.entries()) {
        expect(o.snapshot).toBe(snaps[i].id)
        expect(o.problems).toEqual([
          expect.stringMatching(
            new RegExp(
              `^file files/shared/uploads/report\\.pdf in snapshot ${snaps[i].id} is corrupt: sha256 [0-9a-f]{64}, the manifest and SHA256SUMS say [0-9a-f]{64}$`
            )
          )
        ])
        expect(o.sums!.bad.map(b => [b.path, b.problem])).toEqual([
          ['files/shared/uploads/report.pdf', 'changed']
        ])
        // The database restored fine: only the file is named.
        expect(o.database!.tables.every(t => t.ok)).toBe(true)
        expect(e.message).toContain(`snapshot ${snaps[i].id} of site v1 does not verify`)
        // The standard tool agrees.
        expect(sha256sumCheck(snaps[i].dir)).toBe('files/shared/uploads/report.pdf: FAILED')
      }
      // The command line: one snapshot asked about, the file named on stderr, exit code 1.
      const stderr: string[] = []
      const write = process.stderr.write.bind(process.stderr)
      process.stderr.write = ((chunk: string) => stderr.push(String(chunk)) > 0) as never
      let code: number
      try {
        code = await main(['verify', 'v1', '-c', s.file, '--snapshot', snaps[1].id, '-q'], () => 0)
      } finally {
        process.stderr.write = write
      }
      expect(code).toBe(1)
      expect(stderr.join('')).toContain(
        `file files/shared/uploads/report.pdf in snapshot ${snaps[1].id} is corrupt`
      )
    } finally {
      await flipByte(shared, 60_000)
    }
    expect(sha256sumCheck(snaps[0].dir)).toBe('')
  })

  test("one byte flipped in a dump: verify names the dump, and the restore's check refuses it naming the file", async () => {
    const last = snaps[2]
    // A zstd delta against the first snapshot's copy: a byte of its frame.
    const dump = join(last.dir, last.manifest.database!.dump)
    const at = Math.min(100, Math.floor((await stat(dump)).size / 2))
    await flipByte(dump, at)
    try {
      const e = await verifyError(verifySnapshot({ ...s, reporter: quiet(), snapshot: last.id }))
      expect(e.outcome.problems[0]).toMatch(
        new RegExp(
          `^database dump database\\.dump\\.zst in snapshot ${last.id} is corrupt: sha256 [0-9a-f]{64}, the manifest and SHA256SUMS say ${last.manifest.database!.sha256}$`
        )
      )
      expect(e.outcome.database!.dumpSha256Ok).toBe(false)
      await expect(checkSnapshotDump(s.exec, PY, last.manifest, last.dir)).rejects.toThrow(
        new RegExp(
          `^the dump file ${dump} of snapshot ${last.id} is corrupt: sha256 [0-9a-f]{64}, the manifest says ${last.manifest.database!.sha256}; nothing was changed$`
        )
      )
      // The other snapshots are fine.
      expect(
        (await verifySnapshot({ ...s, reporter: quiet(), snapshot: snaps[1].id })).status
      ).toBe('verified')
    } finally {
      await flipByte(dump, at)
    }
    expect(await checkSnapshotDump(s.exec, PY, last.manifest, last.dir)).toMatch(
      /^dump sha256 [0-9a-f]{12} matches \(1 file\)$/
    )
  })

  test('a SHA256SUMS edited to match a damaged file is caught by its sha256 in the manifest', async () => {
    const { dir, id } = snaps[1]
    const original = await readFile(join(dir, 'SHA256SUMS'), 'utf8')
    const notes = join(dir, 'files/shared/uploads/notes.txt')
    const notesBefore = await readFile(notes)
    execFileSync('cp', ['-p', notes, join(s.dir, 'notes.orig')])
    await writeFile(notes, 'tampered\n')
    const forged = original.replace(
      /^[0-9a-f]{64}(?= {2}files\/shared\/uploads\/notes\.txt$)/m,
      sha256(Buffer.from('tampered\n'))
    )
    await writeFile(join(dir, 'SHA256SUMS'), forged)
    try {
      expect(sha256sumCheck(dir)).toBe('') // the forgery fools the file alone
      const e = await verifyError(verifySnapshot({ ...s, reporter: quiet(), snapshot: id }))
      expect(e.outcome.sums!.sumsFileOk).toBe(false)
      expect(e.outcome.problems).toEqual([
        expect.stringMatching(
          /^SHA256SUMS in snapshot \S+ has sha256 [0-9a-f]{64}, the manifest says/
        ),
        expect.stringMatching(
          /^file files\/shared\/uploads\/notes\.txt in snapshot \S+: the manifest says sha256 [0-9a-f]{64}, SHA256SUMS says [0-9a-f]{64}$/
        ),
        // Its size changed too, which the folder's list (names, sizes, mtimes) shows.
        expect.stringMatching(/^files shared\/uploads: 3 files, \d+ bytes, list hash/)
      ])
    } finally {
      await writeFile(join(dir, 'SHA256SUMS'), original)
      execFileSync('mv', [join(s.dir, 'notes.orig'), notes])
    }
    expect(await readFile(notes)).toEqual(notesBefore)
    expect((await verifySnapshot({ ...s, reporter: quiet(), snapshot: id })).status).toBe(
      'verified'
    )
  })

  test('an older, format 1 snapshot still lists, verifies as far as it can and passes the restore check; the next snapshot hashes everything', async () => {
    // Make the newest snapshot what an older sitecycle wrote: size-prefixed dump digest, no sums.
    const { dir, id, manifest: stored } = snaps[2]
    // An older sitecycle stored the copy whole: the delta made the plain copy again.
    const base = join(dir, '..', stored.database!.store!.base!, 'database.dump')
    execFileSync('zstd', [
      '-q',
      '-d',
      '--long=31',
      `--patch-from=${base}`,
      join(dir, 'database.dump.zst'),
      '-o',
      join(dir, 'database.dump')
    ])
    await rm(join(dir, 'database.dump.zst'))
    const manifest: SnapshotManifest = {
      ...stored,
      database: { ...stored.database!, dump: 'database.dump', store: undefined }
    }
    const digest = JSON.parse(
      (await s.exec.run(summarizeTree(PY, 'content', join(dir, 'database.dump')))).stdout
    ) as TreeSummary
    const old: SnapshotManifest = {
      ...manifest,
      format: 1,
      sums: undefined,
      database: { ...manifest.database!, sha256: digest.sha256, files: undefined },
      files: {
        ...manifest.files,
        folders: manifest.files.folders.map(f => ({ ...f, files: undefined }))
      }
    }
    await writeFile(join(dir, 'manifest.json'), renderManifest(old))
    await rm(join(dir, 'SHA256SUMS'))
    expect(parseManifest(await readFile(join(dir, 'manifest.json'), 'utf8'), 'm').format).toBe(1)
    const listed = await listSnapshots(s.exec, s.site, PY)
    expect(listed.find(x => x.id === id)).toMatchObject({ complete: true, format: 1 })
    expect(listed.find(x => x.id === snaps[1].id)).toMatchObject({ complete: true, format: 3 })
    const lines: string[] = []
    const v = await verifySnapshot({
      ...s,
      reporter: new StreamReporter(l => lines.push(l)),
      snapshot: id
    })
    expect(v).toMatchObject({ status: 'verified', format: 1, sums: null })
    expect(lines.join('\n')).toContain(`snapshot ${id} has a format 1 manifest (no per-file sums)`)
    expect(await checkSnapshotDump(s.exec, PY, old, dir)).toMatch(/^dump sha256 \w{12} matches$/)
    await flipByte(join(dir, 'database.dump'), 100)
    await expect(checkSnapshotDump(s.exec, PY, old, dir)).rejects.toThrow(
      `the dump ${dir}/database.dump of snapshot ${id} is corrupt`
    )
    await flipByte(join(dir, 'database.dump'), 100)

    const next = await takeSnapshot({
      ...s,
      reporter: quiet(),
      now: hours(3),
      progressIntervalMs: 0
    })
    expect(next.manifest.previous).toBe(id)
    expect(next.steps.find(st => st.name === 'write-sums')!.note).not.toContain('keep its sums')
    expect(sha256sumCheck(next.dir)).toBe('')
  })
})

describe('a site with PostgreSQL', () => {
  let pg: PostgresServer
  let s: Site
  beforeAll(async () => {
    pg = await startPostgres()
    pg.sql('postgres', 'CREATE DATABASE shop')
    pg.sql(
      'shop',
      `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;`
    )
    s = await makeSite(
      () =>
        `{ engine: postgres, name: shop, host: 127.0.0.1, port: ${pg.port}, user: postgres, password_env: SC_SUMS_PG_PASSWORD }`
    )
    process.env.SC_SUMS_PG_PASSWORD = pg.password
  })
  afterAll(async () => {
    delete process.env.SC_SUMS_PG_PASSWORD
    await s?.exec.close()
    if (s) await rm(s.dir, { recursive: true, force: true })
    await pg?.stop()
  })

  test('sha256sum -c passes on the snapshot; one byte flipped in the dump fails verify and the restore check, naming the file', async () => {
    const snap = await takeSnapshot({ ...s, reporter: quiet(), progressIntervalMs: 0 })
    expect(sha256sumCheck(snap.dir)).toBe('')
    expect((await verifySnapshot({ ...s, reporter: quiet(), snapshot: snap.id })).status).toBe(
      'verified'
    )
    // The largest file of the dump (the dump itself, or a table's file of a directory dump).
    const target = [...snap.manifest.database!.files!].sort((a, b) => b.size - a.size)[0]
    const path = join(snap.dir, target.path)
    await flipByte(path, Math.floor(target.size / 2))
    expect(sha256sumCheck(snap.dir)).toBe(`${target.path}: FAILED`)
    const e = await verifyError(verifySnapshot({ ...s, reporter: quiet(), snapshot: snap.id }))
    expect(e.outcome.problems[0]).toMatch(
      new RegExp(
        `^database dump ${target.path.replace(/\./g, '\\.')} in snapshot ${snap.id} is corrupt: sha256 [0-9a-f]{64}, the manifest and SHA256SUMS say ${target.sha256}$`
      )
    )
    await expect(checkSnapshotDump(s.exec, PY, snap.manifest, snap.dir)).rejects.toThrow(
      `the dump file ${path} of snapshot ${snap.id} is corrupt`
    )
    expect(
      pg
        .sql('postgres', `SELECT count(*) FROM pg_database WHERE datname LIKE 'shop\\_\\_sc%'`)
        .trim()
    ).toBe('0')
  })
})
