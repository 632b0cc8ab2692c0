/**
 * Snapshots for real: a site with an SQLite database and an uploads folder, on this machine and
 * over SSH (loopback sshd). Snapshot twice (unchanged files hard-linked), list, verify into a
 * scratch database, a corrupt dump and a tampered manifest caught, retention over 90 days with a
 * fake clock, and a disk that fills up halfway through a snapshot (a 2 MB tmpfs).
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import type { Command } from '../../src/commands/command.js'
import { READ_STATE } from '../../src/commands/host-scripts.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import type { Executor, RunOptions } from '../../src/hosts/executor.js'
import { parseManifest, renderManifest } from '../../src/snapshots/manifest.js'
import { LIST_SNAPSHOT_DIRS } from '../../src/snapshots/files.js'
import { listSnapshots } from '../../src/snapshots/list.js'
import { applyRetention, SnapshotFailed, takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot, VerifyFailed } from '../../src/snapshots/verify.js'
import { snapshotIdFor } from '../../src/snapshots/retention.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { startSshd, type Sshd } from '../helpers/sshd.js'

const SQLITE = '/usr/bin/sqlite3'

interface Site {
  dir: string
  root: string
  db: string
  uploads: string
  file: string
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
}

async function makeSite(
  opts: { host?: string; ssh?: Sshd; retention?: string } = {}
): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-snap-'))
  await chmod(dir, 0o755)
  const root = join(dir, 'root')
  const uploads = join(root, 'shared', 'uploads')
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  await mkdir(join(uploads, 'avatars'), { recursive: true })
  await writeFile(join(uploads, 'avatars', 'alice.png'), randomBytes(50_000))
  await writeFile(join(uploads, 'report.pdf'), randomBytes(120_000))
  await writeFile(join(uploads, 'notes.txt'), 'first version\n')
  const db = join(root, 'shared', 'app.sqlite3')
  sql(
    db,
    `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
     CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, body TEXT);
     INSERT INTO users (name, email) VALUES ('alice', 'a@example.org'), ('bob', NULL);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
       INSERT INTO posts (user_id, body) SELECT i % 2 + 1, 'post ' || i FROM n;`
  )
  const ssh = opts.ssh
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
${ssh ? `ssh: { key_file: ${ssh.keyFile}, known_hosts: ${ssh.knownHostsFile} }\n` : ''}sites:
  v1:
    host: ${opts.host ?? 'local'}
    root: ${root}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${db} }
    data: [shared/uploads]
    snapshots: ${opts.retention ?? '{ keep_last: 5 }'}
`
  const file = join(dir, 'sitecycle.yml')
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  const site = config.sites.v1
  return { dir, root, db, uploads, file, config, site, exec: createExecutor(site.host, config.ssh) }
}

function sql(db: string, text: string): string {
  return execFileSync(SQLITE, [db], { input: text, encoding: 'utf8' })
}

function capture(): { reporter: StreamReporter; lines: string[] } {
  const lines: string[] = []
  return { reporter: new StreamReporter(l => lines.push(l)), lines }
}

async function dropSite(s: Site | undefined): Promise<void> {
  if (!s) return
  await s.exec.close()
  await rm(s.dir, { recursive: true, force: true })
}

const t0 = new Date('2024-03-30T03:00:00Z')
const hours = (n: number) => () => new Date(t0.getTime() + n * 3600_000)

let sshd: Sshd | undefined
beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(async () => {
  await sshd?.stop()
})

describe.each(['local', 'ssh'])('snapshots of a site with SQLite and uploads (%s)', kind => {
  let s: Site
  beforeAll(async () => {
    s =
      kind === 'ssh'
        ? await makeSite({ host: `ssh://root@127.0.0.1:${sshd!.port}`, ssh: sshd })
        : await makeSite()
    expect(s.exec.name).toBe(kind === 'ssh' ? `ssh://root@127.0.0.1:${sshd!.port}` : 'local')
  })
  afterAll(() => dropSite(s))

  test('two snapshots: the second hard-links unchanged files, copies changed ones, and both verify', async () => {
    const { reporter, lines } = capture()
    const first = await takeSnapshot({ ...s, reporter, now: hours(0), progressIntervalMs: 0 })
    expect(first.id).toBe('20240330T030000Z')
    const m1 = parseManifest(await readFile(join(first.dir, 'manifest.json'), 'utf8'), 'm1')
    expect(m1).toMatchObject({
      site: 'v1',
      host: s.exec.name,
      previous: null,
      files: { count: 3, bytes: 170_014 },
      database: { engine: 'sqlite', name: s.db, dump: 'database.dump', checksumsFrom: 'file' }
    })
    // The copy is the dump: its tables and row counts are listed, its checksums read from it
    // when a restore or verify needs them.
    expect(m1.database!.tables.map(t => [t.table, t.rows, t.checksum])).toEqual([
      ['posts', 500, ''],
      ['users', 2, '']
    ])
    expect(m1.sitecycleVersion).toMatch(/^\d+\.\d+\.\d+/)

    // Users change one file and add a post.
    await writeFile(join(s.uploads, 'notes.txt'), 'second version, longer\n')
    sql(s.db, `INSERT INTO posts (user_id, body) VALUES (1, 'new');`)
    const second = await takeSnapshot({ ...s, reporter, now: hours(1), progressIntervalMs: 0 })
    expect(second.manifest.previous).toBe(first.id)
    const f1 = join(first.dir, 'files', 'shared', 'uploads')
    const f2 = join(second.dir, 'files', 'shared', 'uploads')
    const unchanged = await stat(join(f2, 'report.pdf'))
    expect(unchanged.ino).toBe((await stat(join(f1, 'report.pdf'))).ino)
    expect(unchanged.nlink).toBe(2)
    expect((await stat(join(f2, 'avatars', 'alice.png'))).ino).toBe(
      (await stat(join(f1, 'avatars', 'alice.png'))).ino
    )
    expect((await stat(join(f2, 'notes.txt'))).ino).not.toBe(
      (await stat(join(f1, 'notes.txt'))).ino
    )
    expect(await readFile(join(f2, 'notes.txt'), 'utf8')).toBe('second version, longer\n')
    expect(await readFile(join(f1, 'notes.txt'), 'utf8')).toBe('first version\n')
    expect(second.manifest.database!.tables.find(t => t.table === 'posts')!.rows).toBe(501)

    // The listing: oldest first, the second adds little disk beyond the first.
    const list = await listSnapshots(s.exec, s.site, '/usr/bin/python3', hours(25)())
    expect(list.map(x => [x.id, x.complete, x.ageSeconds])).toEqual([
      [first.id, true, 25 * 3600],
      [second.id, true, 24 * 3600]
    ])
    expect(list[1].diskBytes).toBeLessThan(list[0].diskBytes / 2)

    // Both verify; no scratch database is left behind.
    const v1 = await verifySnapshot({ ...s, reporter, snapshot: first.id })
    expect(v1.status).toBe('verified')
    expect(v1.database!.tables.map(t => [t.table, t.ok, t.actual?.rows])).toEqual([
      ['posts', true, 500],
      ['users', true, 2]
    ])
    expect(v1.database!.scratch).toMatch(/app\.sqlite3__sc_verify_[0-9a-f]{8}$/)
    const v2 = await verifySnapshot({ ...s, reporter })
    expect(v2.snapshot).toBe(second.id)
    expect((await readdir(join(s.root, 'shared'))).filter(n => n.includes('__sc_verify_'))).toEqual(
      []
    )

    // The journal has each operation's start and end, and no password-like field.
    const journal = await readFile(join(s.root, '.sitecycle', 'journal.jsonl'), 'utf8')
    const ends = journal
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as { op: string; event: string; status?: string })
      .filter(e => e.event === 'end')
    expect(ends.map(e => [e.op, e.status])).toEqual([
      ['snapshot', 'created'],
      ['snapshot', 'created'],
      ['verify', 'verified'],
      ['verify', 'verified']
    ])
    expect(lines.some(l => l.includes('-> copy-files'))).toBe(true)
  })

  // Over SSH the first test shows the same code path works there; the rest run locally only (speed).
  if (kind === 'ssh') return

  test('a corrupt dump fails verify clearly, and a tampered manifest names the table', async () => {
    const { reporter } = capture()
    const snap = await takeSnapshot({ ...s, reporter, now: hours(2), progressIntervalMs: 0 })
    // The dump as stored: the copy, or (after the first snapshot) a zstd delta against it.
    const dump = join(snap.dir, snap.manifest.database!.dump)
    const bytes = await readFile(dump)
    // Overwrite the middle of the file with garbage.
    randomBytes(64).copy(bytes, Math.floor(bytes.length / 2))
    await writeFile(dump, bytes)
    let failed: VerifyFailed | undefined
    await verifySnapshot({ ...s, reporter, snapshot: snap.id }).catch(
      e => (failed = e as VerifyFailed)
    )
    expect(failed).toBeInstanceOf(VerifyFailed)
    expect(failed!.message).toContain(`snapshot ${snap.id} of site v1 does not verify`)
    expect(failed!.message).toMatch(
      /database dump database\.dump(\.zst)? in snapshot \d{8}T\d{6}Z is corrupt: sha256 [0-9a-f]{64}, the manifest and SHA256SUMS say [0-9a-f]{64}/
    )
    expect(failed!.outcome.database!.dumpSha256Ok).toBe(false)
    expect((await readdir(join(s.root, 'shared'))).filter(n => n.includes('__sc_verify_'))).toEqual(
      []
    )

    // A sound dump whose manifest disagrees on one table: the restore comparison catches it.
    const other = await takeSnapshot({ ...s, reporter, now: hours(3), progressIntervalMs: 0 })
    const mPath = join(other.dir, 'manifest.json')
    const m = parseManifest(await readFile(mPath, 'utf8'), mPath)
    m.database!.tables.find(t => t.table === 'users')!.rows = 3
    await writeFile(mPath, renderManifest(m))
    const e2 = await verifySnapshot({ ...s, reporter, snapshot: other.id }).catch(
      e => e as VerifyFailed
    )
    expect(e2).toBeInstanceOf(VerifyFailed)
    expect((e2 as VerifyFailed).outcome.problems).toEqual([
      'table users: 2 rows restored, the manifest says 3'
    ])
  })

  test('the live release, read beside the listing, failing after it: the snapshot completes with read-live a warning, and a failed listing waits for it', async () => {
    // read-state fails, and is only warned about (the first run: it fails at once, while the
    // listing takes 300 ms); when the listing fails (the second run: at once, read-state 300 ms
    // later), the step ends after both.
    const later = () => new Promise(r => setTimeout(r, 300))
    const failing = (exec: Executor, listingFails: boolean): Executor =>
      new Proxy(exec, {
        get(target, prop, receiver) {
          if (prop !== 'run' && prop !== 'tryRun') return Reflect.get(target, prop, receiver)
          return async (command: Command, options?: RunOptions) => {
            if (command.argv.includes(READ_STATE)) {
              if (listingFails) await later()
              order.push('read-state failed')
              throw new Error('read-state: no answer')
            }
            if (command.argv.includes(LIST_SNAPSHOT_DIRS)) {
              if (listingFails) {
                order.push('listing failed')
                throw new Error('listing: no answer')
              }
              await later()
            }
            return target[prop as 'run'](command, options)
          }
        }
      })
    const order: string[] = []
    const { reporter } = capture()
    const r = await takeSnapshot({
      ...s,
      exec: failing(s.exec, false),
      reporter,
      now: hours(500),
      progressIntervalMs: 0
    })
    expect(r.steps.find(x => x.name === 'read-live')).toMatchObject({
      status: 'warning',
      error: expect.stringContaining('read-state: no answer')
    })
    expect(r.manifest.live).toBeNull()
    expect((await verifySnapshot({ ...s, reporter, snapshot: r.id })).status).toBe('verified')
    order.length = 0
    await expect(
      takeSnapshot({
        ...s,
        exec: failing(s.exec, true),
        reporter,
        now: hours(501),
        progressIntervalMs: 0
      })
    ).rejects.toThrow(/listing: no answer/)
    // the failed step returned only once the read it had started was over
    expect(order).toEqual(['listing failed', 'read-state failed'])
  })

  test('an interrupted snapshot (no manifest) is listed as incomplete and removed by the next run', async () => {
    const { reporter } = capture()
    const partial = join(s.root, 'snapshots', snapshotIdFor(hours(4)()))
    await mkdir(join(partial, 'files'), { recursive: true })
    await writeFile(join(partial, 'database.dump'), 'half')
    const before = await listSnapshots(s.exec, s.site, '/usr/bin/python3')
    expect(before.find(x => x.id === snapshotIdFor(hours(4)()))?.complete).toBe(false)
    const next = await takeSnapshot({ ...s, reporter, now: hours(5), progressIntervalMs: 0 })
    expect(next.removedIncomplete).toEqual([snapshotIdFor(hours(4)())])
    await expect(stat(partial)).rejects.toThrow(/ENOENT/)
  })
})

describe('the CLI', () => {
  let s: Site
  beforeAll(async () => {
    s = await makeSite()
  })
  afterAll(() => dropSite(s))

  test('snapshot, snapshots --json and verify', async () => {
    const out: string[] = []
    expect(await main(['snapshot', 'v1', '-c', s.file, '-q'], l => out.push(l))).toBe(0)
    expect(out[0]).toMatch(
      /^snapshot \d{8}T\d{6}Z(-\d+)? of site v1 written to .*: sqlite dump .*, 3 files/
    )
    out.length = 0
    expect(await main(['snapshots', 'v1', '-c', s.file, '--json'], l => out.push(l))).toBe(0)
    const list = JSON.parse(out.join('\n')) as { id: string; complete: boolean; bytes: number }[]
    expect(list).toHaveLength(1)
    expect(list[0].complete).toBe(true)
    expect(list[0].bytes).toBeGreaterThan(170_000)
    out.length = 0
    expect(
      await main(['verify', 'v1', '-c', s.file, '--snapshot', list[0].id, '-q'], l => out.push(l))
    ).toBe(0)
    expect(out[0]).toMatch(
      new RegExp(
        `^snapshot ${list[0].id} of site v1 verified: 4 files match their sha256, 2 tables`
      )
    )
    out.length = 0
    // Every snapshot at once: one line each.
    expect(await main(['snapshot', 'v1', '-c', s.file, '-q'], () => undefined)).toBe(0)
    expect(
      await main(['verify', 'v1', '-c', s.file, '--snapshot', 'all', '-q'], l => out.push(l))
    ).toBe(0)
    expect(out).toEqual([
      expect.stringMatching(new RegExp(`^snapshot ${list[0].id} of site v1 verified: 4 files`)),
      expect.stringMatching(/^snapshot \d{8}T\d{6}Z(-\d+)? of site v1 verified: 4 files/)
    ])
    out.length = 0
    expect(
      await main(['verify', 'v1', '-c', s.file, '--snapshot', '20200101T000000Z', '-q'], l =>
        out.push(l)
      )
    ).toBe(1)
  })

  test('snapshot verifies the snapshot it took, as the action does; --no-verify skips it', async () => {
    const verifies = async () =>
      (await readFile(join(s.root, '.sitecycle', 'journal.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map(
          l => JSON.parse(l) as { op: string; event: string; status?: string; snapshot?: string }
        )
        .filter(e => e.op === 'verify' && e.event === 'end')
    const before = (await verifies()).length
    const out: string[] = []
    expect(await main(['snapshot', 'v1', '-c', s.file, '-q', '--json'], l => out.push(l))).toBe(0)
    const taken = JSON.parse(out.join('\n')) as { id: string; verify?: { status: string } }
    expect(taken.verify?.status).toBe('verified')
    const after = await verifies()
    expect(after).toHaveLength(before + 1)
    expect(after[after.length - 1].status).toBe('verified')
    out.length = 0
    expect(
      await main(['snapshot', 'v1', '-c', s.file, '-q', '--no-verify'], l => out.push(l))
    ).toBe(0)
    expect(out[0]).toMatch(/; not verified \(--no-verify\)$/)
    expect(await verifies()).toHaveLength(before + 1)
  })
})

describe('retention with a fake clock, on disk', () => {
  let s: Site
  beforeAll(async () => {
    s = await makeSite({ retention: '{ keep_last: 3, daily: 7, weekly: 4, monthly: 3 }' })
  })
  afterAll(() => dropSite(s))

  test('90 days of daily snapshots leave exactly the ones the policy names', async () => {
    const start = new Date('2024-01-01T03:00:00Z').getTime()
    for (let i = 0; i < 90; i++) {
      const dir = join(s.root, 'snapshots', snapshotIdFor(new Date(start + i * 86400_000)))
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'manifest.json'), '{}')
    }
    // An incomplete one is not retention's business (the next snapshot run removes it).
    await mkdir(join(s.root, 'snapshots', '20240330T120000Z'))
    const removed = await applyRetention(
      s.exec,
      s.site,
      '/usr/bin/python3',
      new Date('2024-03-30T13:00:00Z')
    )
    expect(removed).toHaveLength(79)
    expect((await readdir(join(s.root, 'snapshots'))).sort()).toEqual([
      '20240131T030000Z',
      '20240229T030000Z',
      '20240310T030000Z',
      '20240317T030000Z',
      '20240324T030000Z',
      '20240325T030000Z',
      '20240326T030000Z',
      '20240327T030000Z',
      '20240328T030000Z',
      '20240329T030000Z',
      '20240330T030000Z',
      '20240330T120000Z'
    ])
  })
})

describe('a disk that fills up during a snapshot', () => {
  let s: Site
  let mounted = false
  beforeAll(async () => {
    s = await makeSite()
    await mkdir(join(s.root, 'snapshots'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', join(s.root, 'snapshots')])
    mounted = true
  })
  afterAll(async () => {
    if (mounted) execFileSync('umount', [join(s.root, 'snapshots')])
    await dropSite(s)
  })

  test('a clear error naming the disk; the earlier snapshot and the live site untouched; nothing partial left', async () => {
    const { reporter } = capture()
    const first = await takeSnapshot({ ...s, reporter, now: hours(0), progressIntervalMs: 0 })
    const firstManifest = await readFile(join(first.dir, 'manifest.json'), 'utf8')
    await writeFile(join(s.uploads, 'video.mp4'), randomBytes(3 * 1024 * 1024))
    const liveBefore = sql(s.db, 'SELECT count(*), group_concat(body) FROM posts;')
    let error: SnapshotFailed | undefined
    await takeSnapshot({ ...s, reporter, now: hours(1), progressIntervalMs: 0 }).catch(
      e => (error = e as SnapshotFailed)
    )
    expect(error).toBeInstanceOf(SnapshotFailed)
    expect(error!.failedStep).toBe('copy-files')
    expect(error!.undoComplete).toBe(true)
    expect(error!.message).toContain(
      'the disk is full: tmpfs mounted on ' + join(s.root, 'snapshots')
    )
    expect(error!.message).toContain('the partial snapshot 20240330T040000Z was removed')
    expect(error!.message).toContain('earlier snapshots and the live site are untouched')
    expect(error!.diskFull).toMatchObject({ filesystem: 'tmpfs', sizeBytes: 2 * 1024 * 1024 })
    // Only the first snapshot remains, exactly as it was, and it still verifies.
    expect(await readdir(join(s.root, 'snapshots'))).toEqual([first.id])
    expect(await readFile(join(first.dir, 'manifest.json'), 'utf8')).toBe(firstManifest)
    expect((await verifySnapshot({ ...s, reporter, snapshot: first.id })).status).toBe('verified')
    expect(
      execFileSync('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], {
        cwd: first.dir,
        encoding: 'utf8'
      })
    ).toBe('')
    // The live data is as it was; the lock is free again.
    expect(sql(s.db, 'SELECT count(*), group_concat(body) FROM posts;')).toBe(liveBefore)
    expect((await stat(join(s.uploads, 'video.mp4'))).size).toBe(3 * 1024 * 1024)
    await expect(stat(join(s.root, '.sitecycle', 'lock'))).rejects.toThrow(/ENOENT/)
    const journal = await readFile(join(s.root, '.sitecycle', 'journal.jsonl'), 'utf8')
    expect(journal).toMatch(
      /"op":"snapshot","event":"end","status":"failed","error":"snapshot 20240330T040000Z of site v1 failed at step 'copy-files': the disk is full/
    )
  })
})

describe('a disk that fills up while the database is dumped', () => {
  let s: Site
  let mounted = false
  beforeAll(async () => {
    s = await makeSite()
    await mkdir(join(s.root, 'snapshots'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', join(s.root, 'snapshots')])
    mounted = true
  })
  afterAll(async () => {
    if (mounted) execFileSync('umount', [join(s.root, 'snapshots')])
    await dropSite(s)
  })

  test('the error names the snapshot, the step and the disk; no partial snapshot; the older one intact by its sums', async () => {
    const { reporter } = capture()
    const first = await takeSnapshot({ ...s, reporter, now: hours(0), progressIntervalMs: 0 })
    const firstSums = await readFile(join(first.dir, 'SHA256SUMS'), 'utf8')
    // The database grows past what the 2 MB disk can hold.
    sql(
      s.db,
      `CREATE TABLE blobs (b BLOB);
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
         INSERT INTO blobs SELECT randomblob(10000) FROM n;`
    )
    const e = await takeSnapshot({ ...s, reporter, now: hours(1), progressIntervalMs: 0 }).then(
      () => undefined,
      (x: unknown) => x as SnapshotFailed
    )
    expect(e).toBeInstanceOf(SnapshotFailed)
    expect(e!.failedStep).toBe('dump-database')
    expect(e!.message).toMatch(
      new RegExp(
        `^snapshot 20240330T040000Z of site v1 failed at step 'dump-database': the disk is full: tmpfs mounted on ${join(s.root, 'snapshots')} \\(2\\.0 MB, .* free now\\) on local holds ${join(s.root, 'snapshots')}; the partial snapshot 20240330T040000Z was removed; earlier snapshots and the live site are untouched`
      )
    )
    expect(e!.message).not.toMatch(/import |def |Traceback/)
    expect(await readdir(join(s.root, 'snapshots'))).toEqual([first.id])
    expect(await readFile(join(first.dir, 'SHA256SUMS'), 'utf8')).toBe(firstSums)
    expect(
      execFileSync('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], {
        cwd: first.dir,
        encoding: 'utf8'
      })
    ).toBe('')
    expect((await verifySnapshot({ ...s, reporter, snapshot: first.id })).status).toBe('verified')
    expect((await listSnapshots(s.exec, s.site, '/usr/bin/python3')).map(x => x.id)).toEqual([
      first.id
    ])
  })
})

describe('PostgreSQL over TCP with a password from a secret', () => {
  let pg: PostgresServer
  let s: Site
  beforeAll(async () => {
    pg = await startPostgres()
    pg.sql('postgres', 'CREATE DATABASE shop')
    pg.sql(
      'shop',
      `CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g;`
    )
    s = await makeSite()
    const yaml = (await readFile(s.file, 'utf8')).replace(
      /database: .*/,
      `database: { engine: postgres, name: shop, host: 127.0.0.1, port: ${pg.port}, user: postgres, password_env: SC_SNAP_PG_PASSWORD }`
    )
    await writeFile(s.file, yaml)
    s.config = parseConfig(yaml, s.file)
    s.site = s.config.sites.v1
  })
  afterAll(async () => {
    delete process.env.SC_SNAP_PG_PASSWORD
    await dropSite(s)
    await pg?.stop()
  })

  test('snapshot and verify; the password is nowhere in the manifest, journal or output', async () => {
    const { reporter, lines } = capture()
    await expect(takeSnapshot({ ...s, reporter, progressIntervalMs: 0 })).rejects.toThrow(
      /set the environment variable SC_SNAP_PG_PASSWORD/
    )
    process.env.SC_SNAP_PG_PASSWORD = pg.password
    const snap = await takeSnapshot({ ...s, reporter, progressIntervalMs: 0 })
    expect(snap.manifest.database).toMatchObject({ engine: 'postgres', name: 'shop' })
    expect(snap.manifest.database!.tables).toEqual([
      expect.objectContaining({ table: 'items', rows: 300 })
    ])
    const v = await verifySnapshot({ ...s, reporter, snapshot: snap.id })
    expect(v.database!.scratch).toMatch(/^shop__sc_verify_[0-9a-f]{8}$/)
    expect(v.database!.tables.every(t => t.ok)).toBe(true)
    expect(
      pg
        .sql('postgres', `SELECT count(*) FROM pg_database WHERE datname LIKE 'shop\\_\\_sc%'`)
        .trim()
    ).toBe('0')
    const manifest = await readFile(join(snap.dir, 'manifest.json'), 'utf8')
    const journal = await readFile(join(s.root, '.sitecycle', 'journal.jsonl'), 'utf8')
    for (const text of [manifest, journal, lines.join('\n')])
      expect(text).not.toContain(pg.password)
    expect(manifest).not.toContain('SC_SNAP_PG_PASSWORD')
    expect(manifest).not.toContain('127.0.0.1')
  })
})
