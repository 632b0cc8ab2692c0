/**
 * The sites of the data-kill tests (data-interrupted-sync.test.ts, data-interrupted-restore.test.ts):
 * a production site per engine (SQLite `ks1`, PostgreSQL `kp1`, MariaDB `km1`) and, when asked,
 * its preview (`ks2`, `kp2`, `km2`, synced from it through an anonymising script; its hook
 * "migrates" the copied data), each initialised and deployed with the sample release under a
 * private Apache, plus the checks both files make: by query, on disk and in the journal. One
 * file's sites and servers are its own (its own temp dir, ports, Apache, PostgreSQL and MariaDB),
 * so the files run side by side.
 */
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, expect } from '@jest/globals'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import type { DatabaseConfig, TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from './apache.js'
import { describeRun, runCli, startCli } from './cli.js'
import {
  startMariaDb,
  startPostgres,
  type MariaDbServer,
  type PostgresServer
} from './databases.js'
import { buildSampleRelease } from './sample-app.js'

export const PY = '/usr/bin/python3'
export const exec = new LocalExecutor()
export const reporter = () => new StreamReporter(() => undefined)

export interface Pair {
  engine: 'sqlite' | 'postgres' | 'mysql'
  prod: string
  preview: string
}
export const PAIRS: Pair[] = [
  { engine: 'sqlite', prod: 'ks1', preview: 'ks2' },
  { engine: 'postgres', prod: 'kp1', preview: 'kp2' },
  { engine: 'mysql', prod: 'km1', preview: 'km2' }
]

/** The engine of a site of these tests, by its name. */
export const engineOf = (site: string): Pair['engine'] =>
  PAIRS.find(p => p.prod === site || p.preview === site)!.engine

/**
 * An anonymising statement that sets each user's e-mail to `user<id>@example.invalid` where
 * `where` holds, in the engine's SQL (MariaDB's `||` is OR, not concatenation).
 */
export function anonymizedEmail(engine: Pair['engine'], where = ''): string {
  const email =
    engine === 'mysql'
      ? "CONCAT('user', id, '@example.invalid')"
      : "'user' || id || '@example.invalid'"
  return `UPDATE users SET email = ${email}${where ? ` WHERE ${where}` : ''}`
}

/**
 * The cases where every kind of operation follows a kill with the data in doubt: each step of
 * `steps` from `swap-data` up to `verify` (swapped in, not verified), with each kind of
 * DataKillSites.followUp (deploy, snapshot, maintenance off, then `same`: the operation again)
 * that its rotation (the step's index in `steps`) does not already give it. `n` is a number no
 * other kill of the file uses; `kind` its index for followUp.
 */
export function inDoubtCases(
  steps: string[],
  same: string
): { step: string; label: string; kind: number; n: number }[] {
  const labels = ['deploy', 'snapshot', 'maintenance off', same]
  return steps
    .slice(steps.indexOf('swap-data'), steps.indexOf('verify'))
    .flatMap((step, k) =>
      labels
        .map((label, kind) => ({ step, label, kind, n: 200 + k * 10 + kind }))
        .filter(c => c.kind !== steps.indexOf(step) % labels.length)
    )
}

/** The MariaDB user the previews' hooks log in as (over TCP, no password: a test server). */
export const MARIA_HOOK_USER = 'kill_hook'

export const without = (tables: TableChecksum[], ...names: string[]) =>
  tables.filter(t => !names.includes(t.table))

const PROD_SQL = `
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, body TEXT);
INSERT INTO users (id, name, email) VALUES (1, 'alice', 'alice@example.org'), (2, 'bob', 'bob@example.org'), (3, 'carol', 'carol@example.org');
INSERT INTO posts (id, user_id, body) VALUES (1, 1, 'hello'), (2, 2, 'world');
`
const PREVIEW_SQL = `
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
INSERT INTO users (id, name, email) VALUES (1, 'tester', 'tester@preview.test');
CREATE TABLE stale (id INTEGER PRIMARY KEY, note TEXT);
INSERT INTO stale VALUES (1, 'old preview data');
`

/** The sites, servers and checks of one test file; filled in by its beforeAll. */
export class DataKillSites {
  apache!: TestApache
  pg!: PostgresServer
  maria!: MariaDbServer
  dir!: string
  releases!: string
  configFile!: string
  config!: SitecycleConfig

  /** @param previews whether the preview sites are made (the restore tests need production only) */
  constructor(private readonly previews: boolean) {}

  sqlitePath = (site: string) => join(this.dir, site, 'shared', 'app.sqlite3')
  pgName = (site: string) => `${site}_db`
  isSqlite = (site: string) => engineOf(site) === 'sqlite'

  sql(site: string, text: string): string {
    const engine = engineOf(site)
    if (engine === 'sqlite')
      return execFileSync('/usr/bin/sqlite3', [this.sqlitePath(site)], {
        input: text,
        encoding: 'utf8'
      })
    if (engine === 'mysql') return this.maria.sql(text, this.pgName(site))
    return this.pg.sql(this.pgName(site), text)
  }

  dbOf(site: string): DatabaseConfig {
    return { ...this.config.sites[site].database!, python: PY }
  }

  async checksums(site: string): Promise<TableChecksum[]> {
    return getEngine(this.dbOf(site).engine).checksums(exec, this.dbOf(site))
  }

  /** Production's addresses found in a site's users table (0 when it has none). */
  productionEmails(site: string): number {
    const has = this.sql(
      site,
      {
        sqlite: "SELECT count(*) FROM sqlite_master WHERE name = 'users';",
        postgres: "SELECT count(*) FROM pg_tables WHERE tablename = 'users';",
        mysql:
          "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'users';"
      }[engineOf(site)]
    ).trim()
    if (has === '0') return 0
    return Number(
      this.sql(site, "SELECT count(*) FROM users WHERE email LIKE '%@example.org';").trim()
    )
  }

  /** The preview's code "migrates" the copied data by recording itself in a table. */
  hookFor(site: string): string {
    if (engineOf(site) === 'mysql')
      return `mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P ${this.maria.port} -u ${MARIA_HOOK_USER} --database=${this.pgName(site)} -e "CREATE TABLE IF NOT EXISTS migrated (by_site VARCHAR(10)); INSERT INTO migrated VALUES ('${site}')"`
    if (this.isSqlite(site))
      return `python -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE IF NOT EXISTS migrated (by TEXT)'); c.execute('INSERT INTO migrated VALUES (?)', (sys.argv[2],)); c.commit()" ${this.sqlitePath(site)} ${site}`
    return `psql -X -q -v ON_ERROR_STOP=1 -h ${this.pg.socketDir} -p ${this.pg.port} -U postgres -d ${this.pgName(site)} -c "CREATE TABLE IF NOT EXISTS migrated (by text); INSERT INTO migrated VALUES ('${site}')"`
  }

  private async siteYaml(name: string, role: string, from?: string): Promise<string> {
    const port = await freePort()
    const db = {
      sqlite: `{ engine: sqlite, name: ${this.sqlitePath(name)} }`,
      postgres: `{ engine: postgres, name: ${this.pgName(name)}, host: ${this.pg.socketDir}, port: ${this.pg.port}, user: postgres }`,
      // root over the server's unix socket, by its OS identity (sitecycle runs as root here).
      mysql: `{ engine: mysql, name: ${this.pgName(name)}, host: ${this.maria.socket}, user: root }`
    }[engineOf(name)]
    const preview = role === 'preview'
    return `
  ${name}:
    role: ${role}
${from ? `    from: ${from}\n` : ''}    root: ${join(this.dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(preview ? [this.hookFor(name)] : [])} }
    database: ${db}
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
${preview ? `    anonymize: ${join(this.dir, engineOf(name) === 'mysql' ? 'anonymize-mysql.sql' : 'anonymize.sql')}\n    access: { basic_auth: false }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${this.apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(this.apache.ctl)}
      shutdown_timeout: 5
`
  }

  /** Relative path → content of every file in a site's uploads. */
  async uploadsOf(site: string): Promise<Record<string, string>> {
    const top = join(this.dir, site, 'shared', 'uploads')
    const out: Record<string, string> = {}
    const walk = async (rel: string): Promise<void> => {
      for (const e of await readdir(join(top, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name
        if (e.isDirectory()) await walk(p)
        else out[p] = await readFile(join(top, p), 'utf8')
      }
    }
    await walk('')
    return out
  }

  /** The shared file of a site (app.shared, kind: file): staged and swapped with the rest. */
  iniOf = (site: string) => join(this.dir, site, 'shared', 'local.ini')
  /** Its content; a kill must never leave it missing (readFile throws then). */
  readIni = (site: string) => readFile(this.iniOf(site), 'utf8')

  frozen = (site: string) =>
    stat(join(this.dir, site, 'maintenance', 'ON')).then(
      () => true,
      () => false
    )

  /** Hidden staged or kept copies next to a site's data, and scratch databases of the site. */
  async leftovers(site: string): Promise<string[]> {
    const shared = (await readdir(join(this.dir, site, 'shared'))).filter(n => n.includes('.sc-'))
    if (this.isSqlite(site)) return shared
    const dbs = (
      engineOf(site) === 'mysql'
        ? this.maria.sql(
            `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '${this.pgName(site)}\\_\\_sc%';`
          )
        : this.pg.sql(
            'postgres',
            `SELECT datname FROM pg_database WHERE datname LIKE '${this.pgName(site)}__sc%';`
          )
    ).trim()
    return [...shared, ...(dbs ? dbs.split('\n') : [])]
  }

  /** The journal's events of one operation id. */
  async journalOf(site: string): Promise<{ id: string; op: string; event: string }[]> {
    return (await readFile(join(this.dir, site, '.sitecycle', 'journal.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as { id: string; op: string; event: string })
  }

  /** A snapshot of `site`, taken in this process (not a run to kill). */
  snapshot = (site: string) =>
    takeSnapshot({
      config: this.config,
      site: this.config.sites[site],
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })

  cli = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '-c', this.configFile], { env })

  /**
   * What the operation after a kill must say it did with the killed `op`, killed after `step`
   * of `steps`: nothing swapped in before `swap-data`; undone from there on; finished from
   * `finishedAfter` on, the step after which the new data counts as verified (data-recovery.ts).
   */
  static recoveryReport(
    op: string,
    steps: string[],
    step: string,
    finishedAfter = 'verify'
  ): RegExp {
    const i = steps.indexOf(step)
    if (i < 0) throw new Error(`no step ${step} in ${steps.join(', ')}`)
    if (i >= steps.indexOf(finishedAfter))
      return new RegExp(
        `recovered: the interrupted ${op} had swapped in and checked the new data: finished`
      )
    if (i >= steps.indexOf('swap-data'))
      return new RegExp(
        `recovered: the interrupted ${op} was undone: the site holds its data from before it`
      )
    return new RegExp(
      `recovered: the interrupted ${op} had not swapped anything in: the site's data is as before`
    )
  }

  /** The operations that follow a kill, in turn. */
  followUp(kind: number, site: string, same: string[]): string[] {
    return this.followUps(site, same)[kind % 4]
  }

  /** Every kind of operation that may follow a kill: deploy, snapshot, maintenance off, `same`. */
  followUps(site: string, same: string[]): string[][] {
    return [
      ['deploy', site, '--release', this.releases, '--version', '1.0.0'],
      ['snapshot', site],
      ['maintenance', 'off', site],
      same
    ]
  }

  /** Start the servers, write the config, fill the databases, init and deploy every site. */
  async setUp(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'sitecycle-kill-'))
    const dir = this.dir
    await chmod(dir, 0o755)
    this.releases = join(dir, 'releases')
    ;[this.apache, this.pg, this.maria] = await Promise.all([
      startApache(),
      startPostgres(),
      startMariaDb()
    ])
    this.maria.sql(
      `CREATE USER '${MARIA_HOOK_USER}'@'127.0.0.1'; GRANT ALL ON *.* TO '${MARIA_HOOK_USER}'@'127.0.0.1';`
    )
    await buildSampleRelease({ version: '1.0.0', releasesDir: this.releases })
    await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
    for (const [file, engine] of [
      ['anonymize.sql', 'postgres'],
      ['anonymize-mysql.sql', 'mysql']
    ] as const)
      await writeFile(join(dir, file), `${anonymizedEmail(engine)}, name = 'anonymous';\n`)
    let sites = ''
    for (const p of PAIRS) {
      sites += await this.siteYaml(p.prod, 'production')
      if (this.previews) sites += await this.siteYaml(p.preview, 'preview', p.prod)
    }
    const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application", shared: [{ path: local.ini, kind: file }] }\nsites:${sites}`
    this.configFile = join(dir, 'sitecycle.yml')
    await writeFile(this.configFile, yaml)
    this.config = parseConfig(yaml, this.configFile)
    const config = this.config
    for (const p of PAIRS) {
      const names = this.previews ? [p.prod, p.preview] : [p.prod]
      for (const name of names) {
        await mkdir(join(dir, name, 'shared', 'uploads'), { recursive: true })
        await writeFile(join(dir, name, 'shared', 'uploads', 'owner.txt'), `${name}\n`)
      }
      if (p.engine === 'postgres')
        this.pg.sql('postgres', names.map(n => `CREATE DATABASE ${this.pgName(n)};`).join(' '))
      if (p.engine === 'mysql')
        this.maria.sql(names.map(n => `CREATE DATABASE ${this.pgName(n)};`).join(' '))
      this.sql(p.prod, PROD_SQL)
      if (this.previews) {
        this.sql(p.preview, PREVIEW_SQL)
        // The preview's hook migrates its SQLite database as the site's user: the data is the app's.
        if (p.engine === 'sqlite')
          execFileSync('chown', ['-R', 'www-data:www-data', join(dir, p.preview, 'shared')])
      }
      for (const name of names) {
        await initSite({ config, site: config.sites[name], exec, reporter: reporter() })
        const o = await deploy({
          config,
          site: config.sites[name],
          exec,
          reporter: reporter(),
          release: this.releases,
          version: '1.0.0'
        })
        expect(o.status).toBe('deployed')
      }
    }
  }

  async tearDown(): Promise<void> {
    await this.apache?.stop()
    await this.pg?.stop()
    await this.maria?.stop()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
  }
}

/** The sites of one test file, made in its beforeAll and removed in its afterAll. */
export function dataKillSites(options: { previews: boolean }): DataKillSites {
  const sites = new DataKillSites(options.previews)
  beforeAll(() => sites.setUp())
  afterAll(() => sites.tearDown())
  return sites
}

/** A pg_restore on PATH that loads as the real one, then, for a staged copy, waits to be killed. */
async function slowRestoreShim(dir: string): Promise<{ path: string; mark: string }> {
  const shims = join(dir, 'shims')
  const mark = join(dir, 'pg-restore-loaded')
  await mkdir(shims, { recursive: true })
  await rm(mark, { force: true })
  const real = execFileSync('sh', ['-c', 'command -v pg_restore'], { encoding: 'utf8' }).trim()
  await writeFile(
    join(shims, 'pg_restore'),
    `#!/bin/sh\n${real} "$@" || exit $?\ncase "$*" in *__sc_*) : > ${mark}; sleep 120 ;; esac\n`,
    { mode: 0o755 }
  )
  return { path: `${shims}:${process.env.PATH}`, mark }
}

/** Run the CLI with `args` and SIGKILL it while pg_restore loads a staged copy (not at a step boundary). */
export async function killWhileLoading(sites: DataKillSites, args: string[]): Promise<void> {
  const shim = await slowRestoreShim(sites.dir)
  const running = startCli([...args, '-c', sites.configFile], { env: { PATH: shim.path } })
  const deadline = Date.now() + 60000
  while (!(await stat(shim.mark).catch(() => null))) {
    if (Date.now() > deadline) {
      running.killGroup()
      throw new Error(`pg_restore never loaded a staged copy: ${describeRun(await running.result)}`)
    }
    await new Promise(r => setTimeout(r, 50))
  }
  running.killGroup('SIGKILL')
  expect(await running.result).toMatchObject({ signal: 'SIGKILL' })
}
