// `npm run bench:data`: what sitecycle's data operations cost over the bare tools, on a
// PostgreSQL database of 1,000,000 rows (and a SQLite one), and what ten daily snapshots take on
// disk. It bundles the CLI from the current sources (build/bench-data/cli.js, gitignored), starts
// its own PostgreSQL server in a temp dir, builds the data, runs the real `sitecycle` commands
// and the bare ones, prints `name value unit` lines on stdout (progress on stderr) and removes
// everything it made, whether the run succeeds or fails. See bench/README.md.
//
//   npm run bench:data                      # the figures of bench/README.md
//   npm run bench:data -- --large           # also a table over 2 GB: its snapshot, verify, sync
//   npm run bench:data -- --rows 200000 --days 3 --verbose
//   npm run bench:data -- --only sqlite     # the SQLite part alone (about a minute)
//   npm run bench:data -- --only sqlite --cli dist/cli.js   # that bundle, not a new one
//   npm run bench:data -- --only sqlite --sqlite-runs 9 --verbose   # nine snapshots, each run shown
//   npm run bench:data -- --only sync --rows 200000 --verbose   # the sync against the bare pipe
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseDataOptions } from './data-options.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PG_BIN = '/usr/lib/postgresql/15/bin'
const PY = '/usr/bin/python3'

const parsed = parseDataOptions(process.argv.slice(2))
if (parsed instanceof Error) {
  process.stderr.write(`bench:data: ${parsed.message}\n`)
  process.exit(2)
}
const opts = parsed
const ROWS = opts.rows
const SQLITE_ROWS = opts.sqliteRows
const DAYS = opts.days

const log = text => process.stderr.write(`bench:data: ${text}\n`)
const figure = (name, value, unit) =>
  process.stdout.write(`${name} ${Number.isInteger(value) ? value : value.toFixed(3)} ${unit}\n`)

/**
 * Run argv (`env`: variables added to this process's, or removed where undefined); resolve with
 * stdout, reject with the command and the tail of stderr.
 */
function run(argv, { env, input, quiet = !opts.verbose } = {}) {
  const childEnv = { ...process.env, ...env }
  for (const [name, value] of Object.entries(childEnv))
    if (value === undefined) delete childEnv[name]
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: childEnv,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', d => {
      out += d
      if (!quiet) process.stderr.write(d)
    })
    child.stderr.on('data', d => {
      err += d
      if (!quiet) process.stderr.write(d)
    })
    if (input !== undefined) child.stdin.end(input)
    child.once('error', reject)
    child.once('exit', code =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${argv.slice(0, 3).join(' ')} ... exited ${code}: ${err.slice(-2000)}`))
    )
  })
}

/** Wall time of `fn` in seconds. */
async function timed(fn) {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/**
 * Write out what earlier work left in the page cache (`sync`) before a part is measured: the
 * data just built, or the part before, would otherwise be written back under the part's own
 * fsyncs, which the bare tool's run beside it may or may not meet.
 */
async function flushed() {
  const s = await timed(() => run(['sync']))
  if (opts.verbose) log(`sync (dirty pages written out): ${s.toFixed(2)} s`)
}

/**
 * Leave PostgreSQL nothing of its own to do during the next part: each database vacuumed and
 * analysed now (a database just restored is otherwise autovacuumed within a minute or two, for
 * its inserted rows, when the launcher's next round comes), no autovacuum worker left (two polls
 * half a second apart; at most two minutes), then a CHECKPOINT and the page cache written out.
 */
async function postgresQuiet(psql) {
  const start = process.hrtime.bigint()
  const databases = await psql(
    'postgres',
    `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres'`
  )
  for (const db of databases.split('\n').filter(Boolean)) await psql(db, 'VACUUM (ANALYZE)')
  let idlePolls = 0
  for (let i = 0; i < 240 && idlePolls < 2; i++) {
    const workers = await psql(
      'postgres',
      `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`
    )
    idlePolls = workers.trim() === '0' ? idlePolls + 1 : 0
    if (idlePolls < 2) await new Promise(resolve => setTimeout(resolve, 500))
  }
  await psql('postgres', 'CHECKPOINT')
  await flushed()
  const waited = Number(process.hrtime.bigint() - start) / 1e9
  log(
    `PostgreSQL left quiet (vacuumed, no autovacuum worker, checkpoint) in ${waited.toFixed(1)} s`
  )
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Bytes on disk under `path`, each hard-linked file once (`du -s --block-size=1`). */
async function diskBytes(...paths) {
  const out = await run(['du', '-s', '--block-size=1', '--total', ...paths])
  return Number(out.trim().split('\n').pop().split(/\s/)[0])
}

// ---------------------------------------------------------------------------------------------

/**
 * Bundle the CLI from the current sources, as rollup.config.js does for dist/cli.js: `out`, its
 * chunks beside it (the same depth as the entry, as sitecycleVersion expects).
 */
async function bundleCli(out) {
  const { rollup } = await import('rollup')
  const { default: typescript } = await import('@rollup/plugin-typescript')
  const config = (await import(pathToFileURL(join(root, 'rollup.config.js')).href)).default
  // the same plugins, TypeScript's output directory moved next to the bundle
  const plugins = config.plugins.map(p =>
    p.name === 'typescript'
      ? typescript({ tsconfig: 'tsconfig.build.json', noEmitOnError: true, outDir: dirname(out) })
      : p
  )
  const input = { cli: config.input.cli }
  const bundle = await rollup({ ...config, input, plugins, onwarn: () => undefined })
  await bundle.write({
    ...config.output,
    dir: dirname(out),
    entryFileNames: basename(out),
    chunkFileNames: '[name]-[hash].js'
  })
  await bundle.close()
}

/** initdb and start a private PostgreSQL 15 (trust over its unix socket only). */
async function startPostgres(dir) {
  const data = join(dir, 'pgdata')
  const socketDir = join(dir, 'pgrun')
  await fs.mkdir(socketDir)
  execFileSync('chown', ['-R', 'postgres:postgres', dir])
  const asPostgres = (file, args) =>
    execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir, stdio: 'ignore' })
  asPostgres(`${PG_BIN}/initdb`, [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync'
  ])
  const port = await freePort()
  const settings = [
    `-p ${port}`,
    `-k ${socketDir}`,
    "-c listen_addresses=''",
    '-c shared_buffers=256MB',
    '-c maintenance_work_mem=256MB',
    '-c max_wal_size=4GB',
    '-c synchronous_commit=off'
  ].join(' ')
  asPostgres(`${PG_BIN}/pg_ctl`, [
    '-D',
    data,
    '-l',
    join(dir, 'pg.log'),
    '-o',
    settings,
    '-w',
    'start'
  ])
  return {
    socketDir,
    port,
    conn: ['-h', socketDir, '-p', String(port), '-U', 'postgres'],
    stop: () => asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop'])
  }
}

/**
 * The production data: `rows` rows over three tables of about 300 to 450 bytes a row (e-mail
 * addresses, names, password hashes, hex-ish text that compresses about as much as prose), with
 * primary keys, a unique e-mail index and a foreign-key index.
 */
function productionSql(rows) {
  const users = Math.round(rows * 0.3)
  const messages = Math.round(rows * 0.6)
  const payments = rows - users - messages
  const words = `(ARRAY['alpha','budget','carbon','delta','ember','forest','garden','harbor','island','jungle','kernel','lantern','meadow','nectar','orbit','pepper'])`
  const text = (seed, n) =>
    Array.from(
      { length: n },
      (_, i) =>
        `${words}[1 + ((${seed}) * ${i + 7} + ${i * 13}) % 16] || ' ' || substr(md5((${seed})::text || '${i}'), 1, ${8 + (i % 5) * 4})`
    ).join(` || ' ' || `)
  return `
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL, password_hash text NOT NULL, bio text, created_at timestamptz NOT NULL);
CREATE TABLE messages (id bigint PRIMARY KEY, user_id bigint NOT NULL, subject text NOT NULL, body text NOT NULL, sent_at timestamptz NOT NULL);
CREATE TABLE payments (id bigint PRIMARY KEY, user_id bigint NOT NULL, amount numeric(10,2) NOT NULL, card_holder text NOT NULL, reference text NOT NULL, note text, paid_at timestamptz NOT NULL);
INSERT INTO users SELECT g, 'user' || g || '.' || substr(md5(g::text), 1, 6) || '@' || (ARRAY['example.org','mail.example.com','corp.example.net'])[1 + g % 3],
  'Name ' || substr(md5((g * 3)::text), 1, 10) || ' ' || substr(md5((g * 5)::text), 1, 12),
  '$argon2id$v=19$' || md5(g::text) || md5((g + 1)::text), ${text('g', 12)}, '2020-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, ${users}) g;
INSERT INTO messages SELECT g, 1 + g % ${users}, 'Re: ' || ${text('g + 1', 2)}, ${text('g', 11)}, '2021-01-01'::timestamptz + g * interval '20 seconds'
  FROM generate_series(1, ${messages}) g;
INSERT INTO payments SELECT g, 1 + (g * 7) % ${users}, (g % 10000) / 100.0, 'Holder ' || substr(md5((g * 11)::text), 1, 14), upper(md5(g::text)),
  ${text('g + 2', 9)}, '2022-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, ${payments}) g;
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX messages_user ON messages (user_id);
CREATE INDEX payments_user ON payments (user_id);
VACUUM ANALYZE;
`
}

/** What production's users change in a day: `percent` % of each table's rows. */
function dailyChangeSql(day, percent) {
  const every = Math.round(100 / percent)
  return `
UPDATE users SET bio = md5('${day}' || id) || substr(bio, 33) WHERE id % ${every} = ${day % every};
UPDATE messages SET body = md5('${day}' || id) || substr(body, 33) WHERE id % ${every} = ${day % every};
UPDATE payments SET note = md5('${day}' || id) || substr(note, 33) WHERE id % ${every} = ${day % every};
`
}

const ANONYMIZE_SQL = `
UPDATE users SET email = 'user' || id || '@example.invalid', name = 'User ' || id, password_hash = '', bio = NULL;
UPDATE payments SET card_holder = 'Holder ' || id, reference = md5('anon' || id);
`

/** A SQLite database of `rows` rows of about 350 bytes, made with Python's sqlite3. */
const SQLITE_BUILD = `
import hashlib, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute('PRAGMA journal_mode=WAL')
con.execute('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, bio TEXT, created TEXT)')
def rows(n):
    for i in range(1, n + 1):
        h = hashlib.md5(str(i).encode()).hexdigest()
        yield (i, 'user%d.%s@example.org' % (i, h[:6]), 'Name ' + h[:12], ' '.join(hashlib.md5(('%d-%d' % (i, k)).encode()).hexdigest()[: 8 + k % 20] for k in range(16)), '2024-01-01 00:%02d:00' % (i % 60))
con.executemany('INSERT INTO users VALUES (?, ?, ?, ?, ?)', rows(int(sys.argv[2])))
con.commit()
con.close()
`

/** Change 1 % of the rows of the SQLite database (`argv[1]`, `argv[3]` rows), spread at random. */
const SQLITE_CHANGE = `
import random, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
day, n = int(sys.argv[2]), int(sys.argv[3])
ids = random.Random(day).sample(range(1, n + 1), max(1, n // 100))
con.executemany('UPDATE users SET name = ?, bio = ? WHERE id = ?', (('Changed %d %d' % (day, i), 'bio of day %d for user %d' % (day, i), i) for i in ids))
con.commit()
con.close()
`

/** Files of a data folder: `count` files of `size` random bytes. */
async function writeFiles(folder, count, size, prefix = 'f') {
  await fs.mkdir(folder, { recursive: true })
  for (let i = 0; i < count; i++)
    await fs.writeFile(
      join(folder, `${prefix}${String(i).padStart(5, '0')}.bin`),
      randomBytes(size)
    )
}

function siteYaml(name, root, extra) {
  return `  ${name}:
    root: ${root}
    url: http://127.0.0.1:9
${extra
  .split('\n')
  .map(l => `    ${l}`)
  .join('\n')}
`
}

/**
 * The SQLite part: build the database of site s1 (`sqliteDb`), then time `sitecycle snapshot s1`
 * `opts.sqliteRuns` times, each between two bare `sqlite3 .backup` runs and into a site without
 * snapshots (each run a site's first snapshot: the most work, snapshots/ made too). One run's
 * figure moved by a tenth either way on this virtual machine; the figures printed are the
 * medians (the ratio: of each run's snapshot over the mean of its two `.backup` runs).
 */
async function sqlitePart(work, sqliteDb, sitecycle) {
  const runs = opts.sqliteRuns
  log(`SQLite: ${SQLITE_ROWS} rows; sitecycle snapshot s1 against sqlite3 .backup, ${runs} run(s)`)
  await run([PY, '-c', SQLITE_BUILD, sqliteDb, String(SQLITE_ROWS)])
  figure('sqlite_mb', (await fs.stat(sqliteDb)).size / 1e6, 'MB')
  await flushed()
  const backupFile = join(work, 'sqlite.backup')
  const backupOnce = async () => {
    const s = await timed(() => run(['sqlite3', sqliteDb, `.backup '${backupFile}'`]))
    await fs.rm(backupFile)
    return s
  }
  const snapshots = join(dirname(dirname(sqliteDb)), 'snapshots')
  const backups = []
  const taken = []
  const ratios = []
  let before = await backupOnce()
  for (let i = 0; i < runs; i++) {
    await fs.rm(snapshots, { recursive: true, force: true })
    const snapshotS = await timed(() => sitecycle('snapshot', 's1', '--no-verify'))
    // A bundle that exits 0 without doing the work (--cli) must not pass for a fast one.
    const made = (await fs.readdir(snapshots).catch(() => [])).filter(id => !id.startsWith('.'))
    const complete =
      made.length === 1 &&
      (await fs.stat(join(snapshots, made[0], 'manifest.json')).then(
        () => true,
        () => false
      ))
    if (!complete)
      throw new Error(`sitecycle snapshot s1 left no complete snapshot in ${snapshots}`)
    const after = await backupOnce()
    const backupS = (before + after) / 2
    if (opts.verbose)
      log(
        `SQLite run ${i + 1}: snapshot ${snapshotS.toFixed(3)} s, .backup ${before.toFixed(3)} and ${after.toFixed(3)} s: ${(snapshotS / backupS).toFixed(2)} x`
      )
    backups.push(backupS)
    taken.push(snapshotS)
    ratios.push(snapshotS / backupS)
    before = after
  }
  figure('sqlite_backup_s', median(backups), 's')
  figure('sqlite_snapshot_s', median(taken), 's')
  figure('sqlite_snapshot_ratio', median(ratios), 'x')

  // Daily snapshots of the same site, 1 % of its rows (at random) changed each day: the first
  // keeps its copy as written, each one after it stores a zstd delta against it (dump-store.ts).
  log(`${DAYS} daily snapshots of s1, 1 % of its rows changed each day`)
  await fs.rm(snapshots, { recursive: true, force: true })
  let firstBytes = 0
  const daily = []
  for (let day = 0; day < DAYS; day++) {
    if (day > 0) await run([PY, '-c', SQLITE_CHANGE, sqliteDb, String(day), String(SQLITE_ROWS)])
    // Snapshot ids are to the second: never two in one.
    await new Promise(r => setTimeout(r, 1010 - (Date.now() % 1000)))
    const s = await timed(() => sitecycle('snapshot', 's1', '--no-verify'))
    if (opts.verbose) log(`SQLite day ${day + 1}: ${s.toFixed(3)} s`)
    if (day === 0) firstBytes = await diskBytes(snapshots)
    else daily.push(s)
  }
  const made = (await fs.readdir(snapshots)).filter(id => !id.startsWith('.'))
  if (made.length !== DAYS)
    throw new Error(`${DAYS} SQLite snapshots were taken, ${made.length} are listed`)
  const totalBytes = await diskBytes(snapshots)
  figure('sqlite_snapshots_disk_mb', totalBytes / 1e6, 'MB')
  figure('sqlite_snapshots_disk_ratio', totalBytes / firstBytes, 'x')
  if (daily.length) {
    figure('sqlite_daily_snapshot_s', median(daily), 's')
    figure('sqlite_daily_snapshot_ratio', median(daily) / median(backups), 'x')
  }
  // What the ratio holds that is no work of sitecycle's: Node's start, before any of its code.
  const nodeStart = async env => {
    const times = []
    for (let i = 0; i < 5; i++)
      times.push(await timed(() => run([process.execPath, '-e', '0'], { env })))
    return median(times)
  }
  figure('node_start_s', await nodeStart(), 's')
  if (process.env.NODE_EXTRA_CA_CERTS)
    log(
      `NODE_EXTRA_CA_CERTS is set (${process.env.NODE_EXTRA_CA_CERTS}): Node reads it at every ` +
        `start, sitecycle's too; without it Node starts in ${(await nodeStart({ NODE_EXTRA_CA_CERTS: undefined })).toFixed(3)} s here`
    )
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `--only sqlite`: the SQLite part alone, no PostgreSQL. */
async function mainSqliteOnly(work, cli) {
  const root1 = join(work, 'sites', 's1')
  await fs.mkdir(join(root1, '.sitecycle'), { recursive: true })
  await fs.mkdir(join(root1, 'shared'), { recursive: true })
  const sqliteDb = join(root1, 'shared', 'site.sqlite3')
  const configFile = join(work, 'sitecycle.yml')
  await fs.writeFile(
    configFile,
    `app: { package: bench-app, wsgi: "bench_app.wsgi:application", python: ${PY} }
sites:
${siteYaml('s1', root1, `database: { engine: sqlite, name: ${sqliteDb} }\nsnapshots: { keep_last: 30 }`)}`
  )
  await sqlitePart(work, sqliteDb, (...args) =>
    run([process.execPath, cli, ...args, '--config', configFile])
  )
}

async function main() {
  const work = await fs.mkdtemp(join(tmpdir(), 'sitecycle-bench-data-'))
  await fs.chmod(work, 0o755)
  let pg
  try {
    let cli = join(root, 'build', 'bench-data', 'cli.js')
    if (opts.cli) {
      cli = resolve(opts.cli)
      log(`running the bundle ${cli} (not bundled again)`)
    } else {
      log(`bundling the CLI from the current sources into ${cli}`)
      await bundleCli(cli)
    }
    if (opts.only === 'sqlite') {
      await mainSqliteOnly(work, cli)
      return
    }

    log(`starting PostgreSQL in ${work}`)
    pg = await startPostgres(work)
    const psql = (db, sql) =>
      run(['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...pg.conn, '-d', db], {
        input: sql
      })

    log(`building the production database: ${ROWS} rows`)
    await psql('postgres', 'CREATE DATABASE prod')
    const buildS = await timed(() => psql('prod', productionSql(ROWS)))
    const prodBytes = Number(await psql('prod', `SELECT pg_database_size('prod')`))
    figure('rows', ROWS, 'rows')
    figure('database_mb', prodBytes / 1e6, 'MB')
    log(`built in ${buildS.toFixed(1)} s`)

    // The sites: v1 production, v2 its preview, d1 for the daily snapshots, s1 on SQLite.
    const sitesDir = join(work, 'sites')
    const siteRoot = name => join(sitesDir, name)
    for (const name of ['v1', 'v2', 'd1', 's1']) {
      await fs.mkdir(join(siteRoot(name), '.sitecycle'), { recursive: true })
      await fs.mkdir(join(siteRoot(name), 'shared', 'uploads'), { recursive: true })
    }
    await writeFiles(join(siteRoot('v1'), 'shared', 'uploads'), 100, 10_000)
    await writeFiles(join(siteRoot('d1'), 'shared', 'uploads'), 200, 100_000)
    const anonymize = join(work, 'anonymize.sql')
    await fs.writeFile(anonymize, ANONYMIZE_SQL)
    const sqliteDb = join(siteRoot('s1'), 'shared', 'site.sqlite3')
    const pgDb = name =>
      `{ engine: postgres, name: ${name}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }`
    const configFile = join(work, 'sitecycle.yml')
    await fs.writeFile(
      configFile,
      `app: { package: bench-app, wsgi: "bench_app.wsgi:application", python: ${PY} }
sites:
${siteYaml('v1', siteRoot('v1'), `database: ${pgDb('prod')}\ndata: [shared/uploads]\nsnapshots: { keep_last: 30 }`)}${siteYaml(
        'v2',
        siteRoot('v2'),
        `role: preview\nfrom: v1\ndatabase: ${pgDb('preview')}\ndata: [shared/uploads]\nanonymize: ${anonymize}\naccess: { basic_auth: false }`
      )}${siteYaml('d1', siteRoot('d1'), `database: ${pgDb('prod')}\ndata: [shared/uploads]\nsnapshots: { keep_last: 30 }`)}${siteYaml(
        's1',
        siteRoot('s1'),
        `database: { engine: sqlite, name: ${sqliteDb} }\nsnapshots: { keep_last: 30 }`
      )}`
    )
    const sitecycle = (...args) => run([process.execPath, cli, ...args, '--config', configFile])

    // The bare tools, what an operator would run by hand, are timed just before and just after
    // each sitecycle command and averaged: the ratio then compares runs under the same load.
    const bareDump = join(work, 'bare.dump')
    let bareDumpMb = 0
    const bareDumpOnce = async () => {
      const s = await timed(() => run(['pg_dump', ...pg.conn, '-Fc', '-f', bareDump, 'prod']))
      bareDumpMb = (await fs.stat(bareDump)).size / 1e6
      await fs.rm(bareDump)
      return s
    }
    const barePipeOnce = async () => {
      await psql('postgres', 'CREATE DATABASE bare_copy')
      const s = await timed(
        () =>
          new Promise((resolve, reject) => {
            const dump = spawn('pg_dump', [...pg.conn, '-Fc', 'prod'], {
              stdio: ['ignore', 'pipe', 'inherit']
            })
            const restore = spawn('pg_restore', [...pg.conn, '--no-owner', '-d', 'bare_copy'], {
              stdio: ['pipe', 'ignore', 'inherit']
            })
            dump.stdout.pipe(restore.stdin)
            let left = 2
            const done = code => {
              if (code !== 0) reject(new Error(`pg_dump | pg_restore exited ${code}`))
              else if (--left === 0) resolve()
            }
            dump.once('exit', done)
            restore.once('exit', done)
          })
      )
      await psql('postgres', 'DROP DATABASE bare_copy')
      return s
    }

    /** The bare pipe, `sitecycle sync v2` (snapshot of v1, restore, anonymise), the bare pipe. */
    const syncPart = async () => {
      log(
        'bare pg_dump -Fc | pg_restore, sitecycle sync v2 (snapshot of v1, restore, anonymise), bare again'
      )
      await postgresQuiet(psql)
      const barePipe1 = await barePipeOnce()
      const syncS = await timed(() => sitecycle('sync', 'v2'))
      const barePipeS = (barePipe1 + (await barePipeOnce())) / 2
      figure('bare_pipe_s', barePipeS, 's')
      figure('sync_s', syncS, 's')
      figure('sync_ratio', syncS / barePipeS, 'x')
      const leaked = await psql(
        'preview',
        `SELECT count(*) FROM users WHERE email NOT LIKE '%@example.invalid'`
      )
      if (leaked.trim() !== '0')
        throw new Error(`the preview holds ${leaked.trim()} real e-mail addresses`)
      figure(
        'preview_mb',
        Number(await psql('preview', `SELECT pg_database_size('preview')`)) / 1e6,
        'MB'
      )
    }

    if (opts.only === 'sync') {
      // As in the whole run, the sync's snapshot of v1 is then a delta against this one.
      log("sitecycle snapshot v1 (not timed: the base of the sync's snapshot)")
      await sitecycle('snapshot', 'v1', '--no-verify')
      await syncPart()
      return
    }

    log('bare pg_dump -Fc, sitecycle snapshot v1, bare pg_dump -Fc')
    await postgresQuiet(psql)
    const bareDump1 = await bareDumpOnce()
    const snapshotS = await timed(() => sitecycle('snapshot', 'v1', '--no-verify'))
    const verifyS = await timed(() => sitecycle('verify', 'v1'))
    const bareDumpS = (bareDump1 + (await bareDumpOnce())) / 2
    figure('bare_dump_s', bareDumpS, 's')
    figure('bare_dump_mb', bareDumpMb, 'MB')
    figure('snapshot_s', snapshotS, 's')
    figure('verify_s', verifyS, 's')
    figure('snapshot_ratio', snapshotS / bareDumpS, 'x')

    log('sitecycle restore v1 (the snapshot just taken)')
    await postgresQuiet(psql)
    const restoreS = await timed(() => sitecycle('restore', 'v1'))
    figure('restore_s', restoreS, 's')

    await syncPart()

    // The SQLite part is timed against a bare tool on a quiet machine, as `--only sqlite` is: after
    // the sync, PostgreSQL's autovacuum went to work on the preview it had just restored (round
    // 15's sampling), taking CPU and disk from both sides of the ratio, more from the snapshot's
    // two processes than from the one of `.backup`. Each part of PostgreSQL starts quiet too.
    await postgresQuiet(psql)
    await sqlitePart(work, sqliteDb, sitecycle)

    log(`${DAYS} daily snapshots of d1, 1 % of its files and rows changed each day`)
    const uploads = join(siteRoot('d1'), 'shared', 'uploads')
    const snapshots = join(siteRoot('d1'), 'snapshots')
    let first = 0
    const later = []
    for (let day = 0; day < DAYS; day++) {
      if (day > 0) {
        await psql('prod', dailyChangeSql(day, 1))
        await writeFiles(uploads, 2, 100_000, `f${String(day * 2).padStart(3, '0')}`)
      }
      const s = await timed(() => sitecycle('snapshot', 'd1', '--no-verify'))
      log(`day ${day + 1}: ${s.toFixed(1)} s`)
      if (day === 0) first = await diskBytes(snapshots)
      else later.push(s)
    }
    // Everything under snapshots/: the listed snapshots and any base kept hidden under .bases.
    const total = await diskBytes(snapshots)
    figure('snapshot_disk_mb', first / 1e6, 'MB')
    figure('snapshots_disk_mb', total / 1e6, 'MB')
    figure('snapshots_disk_ratio', total / first, 'x')
    if (later.length) {
      const sorted = [...later].sort((a, b) => a - b)
      const median = sorted[Math.floor(sorted.length / 2)]
      // Most of these store deltas (each decompresses its base's table files once).
      figure('daily_snapshot_s', median, 's')
      figure('daily_snapshot_ratio', median / bareDumpS, 'x')
    }

    if (opts.large) {
      log('--large: a table over 2 GB')
      await psql('postgres', 'CREATE DATABASE large')
      await psql(
        'large',
        `CREATE TABLE big (id bigint PRIMARY KEY, email text, body text);
         INSERT INTO big SELECT g, 'user' || g || '@example.org', repeat(md5(g::text), 9) FROM generate_series(1, 7000000) g;`
      )
      const bytes = Number(await psql('large', `SELECT pg_total_relation_size('big')`))
      figure('large_table_mb', bytes / 1e6, 'MB')
      const config = (await fs.readFile(configFile, 'utf8')).replace(
        /( {2}d1:[\s\S]*?database: \{ engine: postgres, name: )prod/,
        '$1large'
      )
      await fs.writeFile(configFile, config)
      const largeS = await timed(() => sitecycle('snapshot', 'd1', '--no-verify'))
      figure('large_snapshot_s', largeS, 's')
      // The other operations that read or copy the whole table: verify (every byte, and the dump
      // restored into a scratch database) and a sync into a preview, anonymised (every row).
      log('--large: sitecycle verify d1, then sitecycle sync l2 (a preview of d1, anonymised)')
      const largeVerifyS = await timed(() => sitecycle('verify', 'd1'))
      figure('large_verify_s', largeVerifyS, 's')
      const anonymizeBig = join(work, 'anonymize-big.sql')
      await fs.writeFile(
        anonymizeBig,
        "UPDATE big SET email = 'user' || id || '@example.invalid';\n"
      )
      await fs.mkdir(join(siteRoot('l2'), '.sitecycle'), { recursive: true })
      await fs.mkdir(join(siteRoot('l2'), 'shared', 'uploads'), { recursive: true })
      await fs.appendFile(
        configFile,
        siteYaml(
          'l2',
          siteRoot('l2'),
          `role: preview\nfrom: d1\ndatabase: ${pgDb('large_preview')}\ndata: [shared/uploads]\nanonymize: ${anonymizeBig}\naccess: { basic_auth: false }`
        )
      )
      const largeSyncS = await timed(() => sitecycle('sync', 'l2'))
      figure('large_sync_s', largeSyncS, 's')
      const leaked = await psql(
        'large_preview',
        `SELECT count(*) FROM big WHERE email NOT LIKE '%@example.invalid'`
      )
      if (leaked.trim() !== '0')
        throw new Error(`the large preview holds ${leaked.trim()} real e-mail addresses`)
    }
  } finally {
    try {
      pg?.stop()
    } catch (e) {
      log(`could not stop PostgreSQL: ${e.message}`)
    }
    await fs.rm(work, { recursive: true, force: true })
  }
}

main().catch(e => {
  process.stderr.write(`bench:data failed: ${e.message}\n`)
  process.exit(1)
})
