/**
 * Incremental database snapshots for real (a throwaway PostgreSQL, zstd, sha256sum, pg_restore,
 * the bundled CLI for the kills): daily snapshots of a database whose rows change a little each
 * day are stored as zstd deltas against their chain's full base; the 7th after a base is full;
 * retention that drops a base keeps it hidden while a kept snapshot needs it and deletes it
 * after; a delta snapshot restores (by sitecycle and by the documented standard commands) to the
 * rows it was taken with; `sha256sum -c SHA256SUMS` passes; verify catches a flipped byte in a
 * delta file and in its base's file; a snapshot SIGKILLed after each of its steps leaves every
 * listed snapshot whole and restorable.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import type { DatabaseConfig } from '../../src/databases/engine.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { BASES_DIR, materializeDump } from '../../src/snapshots/dump-store.js'
import { listSnapshots, readManifest } from '../../src/snapshots/list.js'
import { snapshotPlan, takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot, verifySnapshots, VerifyFailed } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { runCli } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'

const PY = '/usr/bin/python3'
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)

let pg: PostgresServer
let dir: string

interface Site {
  root: string
  file: string
  config: SitecycleConfig
  site: SiteConfig
  db: DatabaseConfig
  snapshots: string
}

async function makeSite(name: string, keepLast: number): Promise<Site> {
  const root = join(dir, name)
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  await mkdir(join(root, 'shared', 'uploads'), { recursive: true })
  await writeFile(join(root, 'shared', 'uploads', 'a.txt'), `uploads of ${name}\n`)
  pg.sql('postgres', `CREATE DATABASE ${name}`)
  pg.sql(
    name,
    `CREATE TABLE users (id int PRIMARY KEY, email text, bio text);
     CREATE TABLE posts (id int PRIMARY KEY, body text);
     INSERT INTO users SELECT g, 'user' || g || '@example.org', repeat(md5(g::text), 8) FROM generate_series(1, 20000) g;
     INSERT INTO posts SELECT g, repeat(md5((g * 7)::text), 10) FROM generate_series(1, 20000) g;`
  )
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  ${name}:
    host: local
    root: ${root}
    url: http://127.0.0.1:9
    database: { engine: postgres, name: ${name}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
    data: [shared/uploads]
    snapshots: { keep_last: ${keepLast} }
`
  const file = join(dir, `${name}.yml`)
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  const site = config.sites[name]
  return {
    root,
    file,
    config,
    site,
    db: { ...site.database!, python: PY },
    snapshots: join(root, 'snapshots')
  }
}

/** The day on which 40,000 posts of random text arrive: more than the whole first dump. */
const BIG_DAY = 5

/**
 * One "day": 1 % of the users' rows rewritten (on BIG_DAY, also a mass of new posts), then a
 * snapshot at the given fake time.
 */
async function day(s: Site, n: number) {
  pg.sql(
    s.site.name,
    `UPDATE users SET bio = md5(random()::text) WHERE id % 100 = ${n % 100}; INSERT INTO posts VALUES (${100000 + n}, 'day ${n}');`
  )
  if (n === BIG_DAY)
    pg.sql(
      s.site.name,
      `INSERT INTO posts SELECT 200000 + g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 40000) g;`
    )
  return takeSnapshot({
    config: s.config,
    site: s.site,
    exec,
    reporter: reporter(),
    progressIntervalMs: 0,
    now: () => new Date(Date.UTC(2024, 2, 1 + n, 3))
  })
}

function rowsOf(name: string): string {
  return pg.sql(
    name,
    `SELECT count(*), md5(string_agg(id || ':' || bio, ',' ORDER BY id)) FROM users;
     SELECT count(*) FROM posts;`
  )
}

async function du(path: string): Promise<number> {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0])
}

/** Flip one byte in the middle of a file, keeping its size and mtime. */
async function flipByte(file: string): Promise<() => Promise<void>> {
  const before = await readFile(file)
  const { mtime } = await stat(file)
  const bad = Buffer.from(before)
  bad[Math.floor(bad.length / 2)] ^= 0xff
  await writeFile(file, bad)
  execFileSync('touch', ['-d', mtime.toISOString(), file])
  return async () => {
    await writeFile(file, before)
    execFileSync('touch', ['-d', mtime.toISOString(), file])
  }
}

/** A new database `into`, with the plain directory dump at `dumpDir` restored into it. */
function restoreInto(into: string, dumpDir: string): void {
  pg.sql('postgres', `CREATE DATABASE ${into}`)
  execFileSync('pg_restore', [
    ...['-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres'],
    ...['-d', into, '-j', '2', dumpDir]
  ])
}

/**
 * The README's commands for restoring a stored dump by hand: toc.dat copied, each delta
 * decompressed through the base's file the manifest names for it (`store.bases`, else the file
 * of the same name), each full file decompressed; then pg_restore into a new database `into`.
 */
async function restoreByHand(snapshots: string, id: string, into: string): Promise<void> {
  const m = (await readManifest(exec, snapshots, id))!
  const store = m.database!.store!
  const work = await mkdtemp(join(dir, 'by-hand-'))
  const snapDump = join(snapshots, id, 'database.dump')
  execFileSync('cp', [join(snapDump, 'toc.dat'), work])
  for (const f of await readdir(snapDump)) {
    if (!f.endsWith('.dat.zst')) continue
    const out = join(work, f.slice(0, -4))
    if (store.deltas.includes(f)) {
      const base = join(snapshots, store.base!, 'database.dump', store.bases?.[f] ?? f)
      execFileSync('zstd', ['-q', '-d', '--long=31', base, '-o', `${out}.base`])
      execFileSync('zstd', [
        '-q',
        '-d',
        '--long=31',
        `--patch-from=${out}.base`,
        join(snapDump, f),
        '-o',
        out
      ])
      await rm(`${out}.base`)
    } else execFileSync('zstd', ['-q', '-d', '--long=31', join(snapDump, f), '-o', out])
  }
  restoreInto(into, work)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-incr-'))
  await chmod(dir, 0o755)
  pg = await startPostgres()
})

afterAll(async () => {
  await pg?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('daily snapshots of a PostgreSQL site, 1 % of rows changed a day', () => {
  let s: Site
  const ids: string[] = []
  const rowsAt = new Map<string, string>()
  beforeAll(async () => {
    s = await makeSite('incr', 20)
    for (let n = 0; n < 9; n++) {
      const snap = await day(s, n)
      ids.push(snap.id)
      rowsAt.set(snap.id, rowsOf('incr'))
    }
  })

  test("deltas against the first until the chain's deltas outweigh it (the big day's delta), then full again", async () => {
    const stores = []
    for (const id of ids) stores.push((await readManifest(exec, s.snapshots, id))!)
    expect(stores.map(m => m.format)).toEqual(ids.map(() => 3))
    expect(stores.map(m => m.database!.store!.base)).toEqual([
      null,
      ...Array(BIG_DAY).fill(ids[0]),
      null,
      ids[BIG_DAY + 1],
      ids[BIG_DAY + 1]
    ])
    expect(stores.map(m => m.database!.store!.depth)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2])
    // The manifests carry the weights the choice was made from: the base's, and the chain's.
    const base = stores[0].database!
    expect(base.store!.baseBytes).toBe(base.size)
    expect(base.store!.chainBytes).toBe(0)
    let chain = 0
    for (const m of stores.slice(1, BIG_DAY + 1)) {
      chain += m.database!.size
      expect(m.database!.store).toMatchObject({ baseBytes: base.size, chainBytes: chain })
    }
    expect(chain).toBeGreaterThan(base.size / 2)
    expect(chain - stores[BIG_DAY].database!.size).toBeLessThan(base.size / 2)
    const delta = stores[3].database!
    expect(delta.format).toBe('pg-directory-zstd')
    expect(delta.store!.deltas.length).toBe(2) // users and posts
    const files = await readdir(join(s.snapshots, ids[3], 'database.dump'))
    expect(files).toContain('toc.dat')
    expect(files.filter(f => f.endsWith('.dat.zst')).length).toBe(2)
    // A delta costs a small fraction of the full dump.
    const full = await du(join(s.snapshots, ids[0], 'database.dump'))
    const small = await du(join(s.snapshots, ids[3], 'database.dump'))
    expect(small * 4).toBeLessThan(full)
  })

  test('sha256sum -c SHA256SUMS passes in a delta snapshot and in a full one', () => {
    for (const id of [ids[0], ids[4]]) {
      const out = execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], {
        cwd: join(s.snapshots, id),
        encoding: 'utf8'
      })
      expect(out).toMatch(/database\.dump\/toc\.dat: OK/)
      expect(out).not.toMatch(/FAILED/)
    }
  })

  test('a delta snapshot restores to the rows it was taken with: materialised by sitecycle, and by the documented standard commands', async () => {
    const id = ids[5]
    const m = (await readManifest(exec, s.snapshots, id))!
    const into = join(s.snapshots, '.sc-test-materialize')
    const path = await materializeDump(exec, PY, join(s.snapshots, id), m, into)
    restoreInto('incr_check', path)
    expect(rowsOf('incr_check')).toBe(rowsAt.get(id))
    expect(rowsOf('incr_check')).not.toBe(rowsAt.get(ids[0]))
    await rm(into, { recursive: true })

    // The README's commands, by hand: each delta through the base's file, then pg_restore.
    await restoreByHand(s.snapshots, id, 'incr_hand')
    expect(rowsOf('incr_hand')).toBe(rowsAt.get(id))
  })

  test('verify restores a delta snapshot; it catches a flipped byte in a delta file and in the base file it needs', async () => {
    const id = ids[2]
    const ok = await verifySnapshot({
      config: s.config,
      site: s.site,
      exec,
      reporter: reporter(),
      snapshot: id
    })
    expect(ok.status).toBe('verified')
    expect(ok.database!.tables.every(t => t.ok)).toBe(true)
    const m = (await readManifest(exec, s.snapshots, id))!
    const deltaFile = join(s.snapshots, id, 'database.dump', m.database!.store!.deltas[0])
    const baseFile = join(s.snapshots, ids[0], 'database.dump', m.database!.store!.deltas[0])
    for (const [file, what] of [
      [deltaFile, new RegExp(`database dump .*${m.database!.store!.deltas[0]}`)],
      [baseFile, new RegExp(`base snapshot ${ids[0]}.*is corrupt`)]
    ] as const) {
      const put = await flipByte(file)
      try {
        const e = (await verifySnapshot({
          config: s.config,
          site: s.site,
          exec,
          reporter: reporter(),
          snapshot: id
        }).catch(x => x)) as VerifyFailed
        expect(e).toBeInstanceOf(VerifyFailed)
        expect(e.outcome.problems.join('\n')).toMatch(what)
      } finally {
        await put()
      }
    }
    // Nothing materialised is left beside the snapshots.
    expect((await readdir(s.snapshots)).filter(n => n.startsWith('.sc-'))).toEqual([])
  })

  test('retention that drops the base keeps it hidden while kept deltas need it, and deletes it after', async () => {
    const base = ids[0]
    // Keep only the newest 5: ids[4..8]; ids[4..5] are deltas against ids[0].
    const five = { ...s.site, snapshots: { last: 5, daily: 0, weekly: 0, monthly: 0 } }
    const cfg = { ...s.config, sites: { ...s.config.sites, incr: five } }
    const { applyRetention } = await import('../../src/snapshots/snapshot.js')
    const removed = await applyRetention(exec, five, PY, new Date(Date.UTC(2024, 2, 20)), [], cfg)
    expect([...removed].sort()).toEqual(ids.slice(0, 4))
    const listed = (await listSnapshots(exec, five, PY)).map(x => x.id)
    expect(listed).toEqual(ids.slice(4))
    expect(await readdir(join(s.snapshots, BASES_DIR))).toEqual([base])
    // The middle snapshots' removal broke nothing: a delta of the hidden base verifies.
    const v = await verifySnapshots({
      config: cfg,
      site: five,
      exec,
      reporter: reporter(),
      snapshots: 'all'
    })
    expect(v.map(o => o.status)).toEqual(listed.map(() => 'verified'))
    // Once no kept snapshot needs it (the newest 3: ids[6] full, two deltas on it), it goes.
    const three = { ...s.site, snapshots: { last: 3, daily: 0, weekly: 0, monthly: 0 } }
    await applyRetention(exec, three, PY, new Date(Date.UTC(2024, 2, 20)), [], {
      ...s.config,
      sites: { ...s.config.sites, incr: three }
    })
    expect(await readdir(join(s.snapshots, BASES_DIR))).toEqual([])
    expect((await listSnapshots(exec, three, PY)).map(x => x.id)).toEqual(ids.slice(6))
  })
})

describe('a snapshot SIGKILLed after each of its steps', () => {
  test('every listed snapshot stays whole and verifies; the next snapshot deltas only against a complete base', async () => {
    const s = await makeSite('killed', 3)
    const steps = snapshotPlan().map(line => line.trim().split(/[.:]\s*/)[1])
    expect(await runCli(['snapshot', 'killed', '--config', s.file])).toMatchObject({ code: 0 })
    const names = [
      'remove-incomplete',
      'create-dir',
      'read-live',
      'dump-database',
      'copy-files',
      'write-sums',
      'write-manifest',
      'apply-retention'
    ]
    expect(steps).toEqual(names)
    for (const step of names) {
      pg.sql('killed', `UPDATE users SET bio = md5(random()::text) WHERE id % 50 = 0`)
      const killed = await runCli(['snapshot', 'killed', '--config', s.file], {
        env: { SITECYCLE_FAULT_KILL_AFTER: step }
      })
      expect(killed.signal).toBe('SIGKILL')
      const after = await runCli(['snapshot', 'killed', '--config', s.file])
      expect(after).toMatchObject({ code: 0 })
      for (const snap of await listSnapshots(exec, s.site, PY)) {
        expect(snap.complete).toBe(true)
        const m = (await readManifest(exec, s.snapshots, snap.id))!
        const base = m.database!.store!.base
        if (base) {
          const where = [join(s.snapshots, base), join(s.snapshots, BASES_DIR, base)]
          const found = await Promise.all(
            where.map(d =>
              stat(join(d, 'manifest.json')).then(
                () => true,
                () => false
              )
            )
          )
          expect(found).toContain(true)
        }
      }
    }
    const v = await verifySnapshots({
      config: s.config,
      site: s.site,
      exec,
      reporter: reporter(),
      snapshots: 'all'
    })
    expect(v.every(o => o.status === 'verified')).toBe(true)
    expect(
      (await readdir(s.snapshots)).filter(n => n.startsWith('.sc-') || n.includes('raw'))
    ).toEqual([])
  })
})

describe("a new object before the tables (a migration's function) changes pg_dump's dump ids", () => {
  test('the next snapshot deltas each table against the same table of its base, named in the manifest; it restores by sitecycle, by hand and verifies', async () => {
    const s = await makeSite('moved', 10)
    const first = await day(s, 0)
    // Every table's dump id moves by one: N.dat is now another table's file than in the base.
    pg.sql('moved', `CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'`)
    const second = await day(s, 1)
    const rows = rowsOf('moved')
    const m = (await readManifest(exec, s.snapshots, second.id))!
    const store = m.database!.store!
    expect(store.base).toBe(first.id)
    expect(store.deltas.length).toBe(2)
    // Each delta was made against the base's file of the same table, which has another name.
    expect(Object.keys(store.bases ?? {}).sort()).toEqual([...store.deltas].sort())
    for (const [delta, against] of Object.entries(store.bases!)) expect(against).not.toBe(delta)
    // So it is small: 1 % of the users changed, one post added.
    const dump = (id: string) => join(s.snapshots, id, 'database.dump')
    const deltaBytes = (
      await Promise.all(store.deltas.map(f => stat(join(dump(second.id), f))))
    ).reduce((a, b) => a + b.size, 0)
    expect(deltaBytes).toBeLessThan((await du(dump(first.id))) / 10)

    const into = join(s.snapshots, '.sc-test-materialize')
    const path = await materializeDump(exec, PY, join(s.snapshots, second.id), m, into)
    restoreInto('moved_check', path)
    await rm(into, { recursive: true })
    expect(rowsOf('moved_check')).toBe(rows)
    expect(pg.sql('moved_check', 'SELECT answer()').trim()).toBe('42')
    await restoreByHand(s.snapshots, second.id, 'moved_hand')
    expect(rowsOf('moved_hand')).toBe(rows)
    const v = await verifySnapshot({
      config: s.config,
      site: s.site,
      exec,
      reporter: reporter(),
      snapshot: second.id
    })
    expect(v.status).toBe('verified')
  })
})
