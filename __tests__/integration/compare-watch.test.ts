/**
 * compare and watch on two real sites under a private Apache: the sample deployed by the real
 * deploy pipeline, SQLite databases and data folders; tampering done by hand, as an intruder or a
 * hurried admin would.
 */
import { execFileSync } from 'node:child_process'
import {
  appendFile,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  symlink,
  unlink,
  writeFile,
  rename
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { compareSites } from '../../src/compare/compare.js'
import { renderCompareMarkdown } from '../../src/compare/compare-report.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { watchSite } from '../../src/watch/watch.js'
import { renderWatchMarkdown } from '../../src/watch/watch-report.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import {
  startMariaDb,
  startPostgres,
  type MariaDbServer,
  type PostgresServer
} from '../helpers/databases.js'
import { schemaOf } from '../../src/compare/database-schema.js'

const SECRET_A = 'cw-secret-alpha-7391'
const SECRET_B = 'cw-secret-bravo-2248'
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)
let apache: TestApache
let dir: string
let releases: string
let configFile: string
let config: SitecycleConfig

async function writeConfig(): Promise<void> {
  const [p1, p2] = [await freePort(), await freePort()]
  const site = (name: string, port: number) => `
  ${name}:
    host: local
    root: ${dir}/${name}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage check"]
    keep_releases: 3
    database: { engine: sqlite, name: ${dir}/${name}.sqlite }
    data: [${dir}/${name}-uploads]
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
  const yaml = `app:\n  package: sitecycle-sample\n  wsgi: sitecycle_sample.wsgi:application\nsites:${site('v1', p1)}${site('v2', p2)}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  config = parseConfig(yaml, configFile)
}

function sqlite(file: string, sql: string): void {
  execFileSync('/usr/bin/python3', [
    '-c',
    'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()',
    file,
    sql
  ])
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const code = await main([...args, '--config', configFile, '-q'], s => lines.push(s))
  return { code, out: lines.join('\n') }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-cw-'))
  execFileSync('chmod', ['755', dir])
  releases = join(dir, 'releases')
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  apache = await startApache()
  await mkdir(join(dir, 'deploy'))
  await writeFile(
    join(dir, 'deploy', 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nsecret_key = {{ secret.SAMPLE_SECRET_KEY }}\nroot = {{ site.root }}\nversion = {{ release.version }}\nmode = fast\n'
  )
  await writeConfig()
  for (const name of ['v1', 'v2']) {
    const site = config.sites[name]
    await initSite({ config, site, exec, reporter: reporter() })
    await deploy({
      config,
      site,
      exec,
      reporter: reporter(),
      release: releases,
      version: '1.0.0',
      env: { ...process.env, SAMPLE_SECRET_KEY: SECRET_A }
    })
    sqlite(
      `${dir}/${name}.sqlite`,
      "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (body) VALUES ('one'), ('two'); CREATE TABLE tags (name TEXT);"
    )
    await mkdir(`${dir}/${name}-uploads/img`, { recursive: true })
    await writeFile(`${dir}/${name}-uploads/img/logo.png`, 'PNG-bytes')
    await writeFile(`${dir}/${name}-uploads/readme.txt`, 'same text')
  }
})

afterAll(async () => {
  await apache?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('compare', () => {
  test('two sites with the same release and data: no difference, exit 0 even with --fail-on-difference', async () => {
    const report = await compareSites({
      a: { config, site: config.sites.v1, exec },
      b: { config, site: config.sites.v2, exec },
      env: { SAMPLE_SECRET_KEY: SECRET_A }
    })
    expect({ same: report.same, differences: report.differences }).toEqual({
      same: true,
      differences: 0
    })
    // It really looked: files, packages, config keys, tables were all compared.
    expect(report.files.counts.same).toBeGreaterThan(5)
    expect(report.packages.sameCount).toBe(1)
    expect(report.config.sameKeys).toBe(5)
    expect(report.database?.sameTables).toBe(2)
    expect(report.data[0].counts.same).toBe(2)
    const r = await cli(['compare', 'v1', 'v2', '--fail-on-difference'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('are the same')
  })

  test('different versions, config, data and rows: each difference named, no secret shown', async () => {
    // v2 gets release 2.0.0 rendered with another secret and an edited config line.
    await deploy({
      config,
      site: config.sites.v2,
      exec,
      reporter: reporter(),
      release: releases,
      version: '2.0.0',
      env: { ...process.env, SAMPLE_SECRET_KEY: SECRET_B }
    })
    const ini = `${dir}/v2/releases/2.0.0/app.ini`
    await writeFile(ini, (await readFile(ini, 'utf8')).replace('mode = fast', 'mode = slow'))
    sqlite(
      `${dir}/v2.sqlite`,
      "INSERT INTO notes (body) VALUES ('three'); ALTER TABLE tags ADD COLUMN color TEXT;"
    )
    await writeFile(`${dir}/v2-uploads/readme.txt`, 'other text')
    await writeFile(`${dir}/v2-uploads/new.txt`, 'new')
    await unlink(`${dir}/v2-uploads/img/logo.png`)

    const report = await compareSites({
      a: { config, site: config.sites.v1, exec },
      b: { config, site: config.sites.v2, exec },
      env: { SAMPLE_SECRET_KEY: SECRET_A }
    })
    expect(report.same).toBe(false)
    expect(report.a).toMatchObject({ release: '1.0.0', version: '1.0.0' })
    expect(report.b).toMatchObject({ release: '2.0.0', version: '2.0.0' })
    expect(report.release.same).toBe(false)
    expect(report.packages.changed).toEqual([{ name: 'sitecycle-sample', a: '1.0.0', b: '2.0.0' }])
    // The version file, the package's metadata and the wheel's hash (direct_url.json) carry the
    // version; nothing else differs.
    expect(report.files).toMatchObject({
      changed: [
        'lib/python3.11/site-packages/sitecycle_sample-*.dist-info/METADATA',
        'lib/python3.11/site-packages/sitecycle_sample-*.dist-info/direct_url.json',
        'lib/python3.11/site-packages/sitecycle_sample/_version.py'
      ],
      onlyA: [],
      onlyB: []
    })
    expect(report.data[0]).toMatchObject({
      changed: ['readme.txt'],
      onlyA: ['img/logo.png'],
      onlyB: ['new.txt']
    })
    expect(report.config.differences).toEqual([
      { key: '[app] mode', a: 'fast', b: 'slow', secret: false },
      { key: '[app] secret_key', a: '***', b: '***', secret: true }
    ])
    expect(report.database?.tables).toEqual([
      {
        table: 'notes',
        rows: { a: 2, b: 3 },
        checksum: 'different',
        columns: { onlyA: [], onlyB: [], changed: [] }
      },
      {
        table: 'tags',
        rows: { a: 0, b: 0 },
        checksum: 'same',
        columns: { onlyA: [], onlyB: ['color'], changed: [] }
      }
    ])
    const markdown = renderCompareMarkdown(report)
    expect(markdown).toContain('sitecycle-sample')
    expect(markdown).toContain('`notes`')
    expect(markdown).toContain('only B: color')
    const json = JSON.stringify(report)
    for (const text of [markdown, json]) {
      expect(text).not.toContain(SECRET_A)
      expect(text).not.toContain(SECRET_B)
    }

    const r = await cli(['compare', 'v1', 'v2', '--fail-on-difference', '--json'])
    expect(r.code).toBe(5)
    expect(JSON.parse(r.out).differences).toBe(report.differences)
    expect(r.out).not.toContain(SECRET_A)
    expect(r.out).not.toContain(SECRET_B)
    // Without --fail-on-difference the differences are printed and the exit is 0.
    const plain = await cli(['compare', 'v1', 'v2'])
    expect(plain.code).toBe(0)
    expect(plain.out).toContain('package sitecycle-sample: 1.0.0 / 2.0.0')
    expect(plain.out).toContain('config [app] secret_key: secret, differs')
  })
})

describe('watch', () => {
  const sitePackages = () => `${dir}/v1/releases/1.0.0/lib/python3.11/site-packages`

  test('a freshly deployed site is clean: exit 0', async () => {
    const report = await watchSite({ config, site: config.sites.v1, exec })
    expect(report.findings).toEqual([])
    expect(report).toMatchObject({
      drifted: false,
      live: { release: '1.0.0', version: '1.0.0' },
      links: { status: 'ok', expected: { status: 'known', version: '1.0.0' } },
      files: { status: 'ok', counts: { modified: 0, added: 0, removed: 0 } },
      config: { status: 'unchanged' }
    })
    expect(report.files.checked).toBeGreaterThan(5)
    expect(renderWatchMarkdown(report)).toContain('is as sitecycle installed it')
    const r = await cli(['watch', 'v1'])
    expect(r.code).toBe(0)
  })

  /** Run `fn` on v1, then put the files back as they were and check watch is clean again. */
  async function tamperedAndRestored(files: string[], fn: () => Promise<void>): Promise<void> {
    const saved = await Promise.all(files.map(f => readFile(f)))
    try {
      await fn()
    } finally {
      await Promise.all(files.map((f, i) => writeFile(f, saved[i])))
    }
    expect((await watchSite({ config, site: config.sites.v1, exec })).findings).toEqual([])
  }

  test('a rewritten __pycache__ .pyc whose header matches its source: reported as modified, exit 5', async () => {
    const sp = sitePackages()
    const source = `${sp}/sitecycle_sample/wsgi.py`
    const pyc = `${sp}/sitecycle_sample/__pycache__/wsgi.cpython-311.pyc`
    await tamperedAndRestored([pyc], async () => {
      // Other code under the original header (magic, flags, the source's mtime and size): Python
      // takes it as up to date and runs it instead of the source.
      execFileSync('/usr/bin/python3', [
        '-c',
        `import marshal, sys
source, pyc = sys.argv[1], sys.argv[2]
header = open(pyc, 'rb').read()[:16]
code = compile(open(source).read() + '\\nimport os\\n', source, 'exec', dont_inherit=True)
open(pyc, 'wb').write(header + marshal.dumps(code))`,
        source,
        pyc
      ])
      const report = await watchSite({ config, site: config.sites.v1, exec })
      expect(report.drifted).toBe(true)
      expect(report.files.modified).toEqual([
        {
          path: 'lib/python3.11/site-packages/sitecycle_sample/__pycache__/wsgi.cpython-311.pyc',
          package: 'sitecycle_sample-1.0.0',
          reason:
            'byte code differs from what lib/python3.11/site-packages/sitecycle_sample/wsgi.py compiles to'
        }
      ])
      expect((await cli(['watch', 'v1'])).code).toBe(5)
    })
  })

  test('a .pyc with no recorded source is reported as added, one for another interpreter as modified', async () => {
    const cache = `${sitePackages()}/sitecycle_sample/__pycache__`
    const pyc = `${cache}/wsgi.cpython-311.pyc`
    const planted = [`${cache}/ghost.cpython-311.pyc`, `${cache}/wsgi.cpython-39.pyc`]
    await tamperedAndRestored([], async () => {
      for (const p of planted) await writeFile(p, await readFile(pyc))
      try {
        const report = await watchSite({ config, site: config.sites.v1, exec })
        const rel = (p: string) => p.slice(`${dir}/v1/releases/1.0.0/`.length)
        expect(report.files.added).toEqual([rel(planted[0])])
        expect(report.files.modified).toEqual([
          {
            path: rel(planted[1]),
            package: 'sitecycle_sample-1.0.0',
            reason: 'byte code for another interpreter (this one is cpython-311)'
          }
        ])
      } finally {
        for (const p of planted) await unlink(p)
      }
    })
  })

  test('a file edited together with its RECORD line: the RECORD kept at install tells, exit 5', async () => {
    const sp = sitePackages()
    const file = `${sp}/sitecycle_sample/wsgi.py`
    const record = `${sp}/sitecycle_sample-1.0.0.dist-info/RECORD`
    // The copy is outside site-packages, in the release's own record.
    const kept = JSON.parse(await readFile(`${dir}/v1/releases/1.0.0/release.json`, 'utf8')) as {
      records: Record<string, string>
    }
    expect(Object.keys(kept.records)).toEqual([
      'lib/python3.11/site-packages/sitecycle_sample-1.0.0.dist-info/RECORD'
    ])
    await tamperedAndRestored([file, record], async () => {
      await appendFile(file, '\nimport os\n')
      execFileSync('/usr/bin/python3', [
        '-c',
        `import base64, hashlib, sys
file, record = sys.argv[1], sys.argv[2]
data = open(file, 'rb').read()
h = 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
lines = [('sitecycle_sample/wsgi.py,%s,%d' % (h, len(data))) if l.startswith('sitecycle_sample/wsgi.py,') else l for l in open(record).read().splitlines()]
open(record, 'w').write('\\n'.join(lines) + '\\n')`,
        file,
        record
      ])
      const report = await watchSite({ config, site: config.sites.v1, exec })
      expect(report.drifted).toBe(true)
      // The file now matches its (edited) RECORD line: the RECORD itself is what is reported
      // (with the byte code the edited source no longer matches).
      expect(report.files.modified.map(m => m.path).sort()).toEqual([
        'lib/python3.11/site-packages/sitecycle_sample-1.0.0.dist-info/RECORD',
        'lib/python3.11/site-packages/sitecycle_sample/__pycache__/wsgi.cpython-311.pyc'
      ])
      expect(report.findings.join('\n')).toContain(
        'modified: lib/python3.11/site-packages/sitecycle_sample-1.0.0.dist-info/RECORD (sitecycle_sample-1.0.0): RECORD changed after install'
      )
      expect((await cli(['watch', 'v1'])).code).toBe(5)
    })
  })

  test('a modified, an added and a removed file and an edited app.ini: each reported, exit 5', async () => {
    const sp = sitePackages()
    await appendFile(`${sp}/sitecycle_sample/wsgi.py`, '\n# tampered\n')
    await writeFile(`${sp}/sitecycle_sample/stray.py`, 'print("hi")\n')
    await writeFile(`${sp}/evil.pth`, 'import os\n')
    await unlink(`${sp}/sitecycle_sample/manage.py`)
    const ini = `${dir}/v1/releases/1.0.0/app.ini`
    await appendFile(ini, 'debug = true\n')

    const report = await watchSite({ config, site: config.sites.v1, exec })
    expect(report.drifted).toBe(true)
    expect(report.files.modified.map(m => m.path)).toEqual([
      'lib/python3.11/site-packages/sitecycle_sample/wsgi.py'
    ])
    expect(report.files.modified[0].package).toBe('sitecycle_sample-1.0.0')
    expect(report.files.added.sort()).toEqual([
      'lib/python3.11/site-packages/evil.pth',
      'lib/python3.11/site-packages/sitecycle_sample/stray.py'
    ])
    expect(report.files.removed.map(m => m.path)).toEqual([
      'lib/python3.11/site-packages/sitecycle_sample/manage.py'
    ])
    expect(report.config.status).toBe('modified')
    expect(report.links.status).toBe('ok')
    const markdown = renderWatchMarkdown(report)
    expect(markdown).toContain('has drifted')
    expect(markdown).toContain('stray.py')
    expect(markdown).not.toContain(SECRET_A)

    const r = await cli(['watch', 'v1', '--json'])
    expect(r.code).toBe(5)
    expect(JSON.parse(r.out).files.counts).toEqual({ modified: 1, added: 2, removed: 1 })
    expect(r.out).not.toContain(SECRET_A)
  })

  test('a slot link repointed behind sitecycle: reported against the journal', async () => {
    // v2 has 2.0.0 live and 1.0.0 warm in the idle slot; point the live slot at 1.0.0 by hand.
    const state = (await readFile(`${dir}/v2/live.map`, 'utf8')).trim().split(/\s+/)[1]
    const link = `${dir}/v2/slots/${state}`
    await symlink('../releases/1.0.0', `${link}.tmp`)
    await rename(`${link}.tmp`, link)
    const report = await watchSite({ config, site: config.sites.v2, exec })
    expect(report.links.status).toBe('drifted')
    expect(report.live.release).toBe('1.0.0')
    expect(report.findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `live slot ${state} serves 1\\.0\\.0, but the journal's last deploy \\S+ left 2\\.0\\.0 live`
          )
        )
      ])
    )
    // A link out of releases/ is named too.
    await symlink('/tmp', `${link}.tmp`)
    await rename(`${link}.tmp`, link)
    const outside = await watchSite({ config, site: config.sites.v2, exec })
    expect(outside.findings).toEqual(
      expect.arrayContaining([`slot ${state} points outside releases/: /tmp (/tmp)`])
    )
    expect((await cli(['watch', 'v2'])).code).toBe(5)
  })
})

describe('database schema on real servers', () => {
  let pg: PostgresServer
  let maria: MariaDbServer
  beforeAll(async () => {
    ;[pg, maria] = await Promise.all([startPostgres(), startMariaDb()])
  })
  afterAll(async () => {
    await Promise.all([pg?.stop(), maria?.stop()])
  })

  test('postgres: tables of every schema but the system ones, columns in order, types, nullability', async () => {
    pg.sql('postgres', 'CREATE DATABASE cw_schema')
    pg.sql(
      'cw_schema',
      `CREATE TABLE items (id int PRIMARY KEY, "odd|name" varchar(40), price numeric(8,2) NOT NULL);
       CREATE SCHEMA extra; CREATE TABLE extra.log (n int);
       CREATE VIEW v AS SELECT id FROM items;`
    )
    const schema = await schemaOf(exec, {
      engine: 'postgres',
      name: 'cw_schema',
      host: pg.socketDir,
      port: pg.port,
      user: 'postgres'
    })
    expect(schema).toEqual([
      { table: 'extra.log', columns: [{ name: 'n', type: 'integer', nullable: true }] },
      {
        table: 'items',
        columns: [
          { name: 'id', type: 'integer', nullable: false },
          { name: 'odd|name', type: 'character varying(40)', nullable: true },
          { name: 'price', type: 'numeric(8,2)', nullable: false }
        ]
      }
    ])
  })

  test('MariaDB: base tables and columns, values with tabs and quotes intact', async () => {
    maria.sql('CREATE DATABASE cw_schema')
    maria.sql(
      'CREATE TABLE items (id INT PRIMARY KEY, `odd\tname "q"` VARCHAR(40), price DECIMAL(8,2) NOT NULL); CREATE VIEW v AS SELECT id FROM items;',
      'cw_schema'
    )
    const schema = await schemaOf(exec, {
      engine: 'mysql',
      name: 'cw_schema',
      host: maria.socket,
      user: 'root'
    })
    expect(schema).toEqual([
      {
        table: 'items',
        columns: [
          { name: 'id', type: 'int(11)', nullable: false },
          { name: 'odd\tname "q"', type: 'varchar(40)', nullable: true },
          { name: 'price', type: 'decimal(8,2)', nullable: false }
        ]
      }
    ])
  })
})
