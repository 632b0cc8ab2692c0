import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import {
  collectSecrets,
  compareDatabases,
  comparePackages,
  comparePaths,
  redactStrings,
  releasePathKey
} from '../../src/compare/compare.js'
import {
  compareConfigs,
  normalizeValue,
  parseIni,
  secretKeysOfTemplate
} from '../../src/compare/config-diff.js'
import { schemaOf, unescapeMysqlBatch } from '../../src/compare/database-schema.js'
import { parseConfig } from '../../src/config/load-config.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'

const values = (name: string) => ({
  site: { name, root: `/srv/${name}`, url: `https://${name}.example.org` },
  release: { version: '1.0.0', dir: `/srv/${name}/releases/1.0.0` }
})
const TEMPLATE = `[app]
greeting = hello from {{ site.name }}
db_url = postgres://app:{{ secret.DB_PASSWORD }}@db/{{ site.name }}
root = {{ site.root }}/data
mode = {{ env.MODE }} on {{ site.name }}
plain = 1
`

describe('config comparison', () => {
  it('parses INI sections, both separators, comments and continuation lines', () => {
    expect(parseIni('top = 1\n# c\n[a]\nk: v\n  more\n; c\n[b]\nx=y=z\n')).toEqual([
      { section: '', key: 'top', value: '1' },
      { section: 'a', key: 'k', value: 'v\nmore' },
      { section: 'b', key: 'x', value: 'y=z' }
    ])
  })

  it('knows which keys hold secrets from the template', () => {
    expect([...secretKeysOfTemplate(TEMPLATE)]).toEqual(['[app] db_url'])
  })

  it("puts a value back into its template's terms only when it is the template rendered for that site", () => {
    expect(normalizeValue('hello from v1', 'hello from {{ site.name }}', values('v1'))).toBe(
      'hello from {{ site.name }}'
    )
    expect(normalizeValue('hello from v2', 'hello from {{ site.name }}', values('v1'))).toBe(
      'hello from v2'
    )
    expect(normalizeValue('fast on v1', '{{ env.MODE }} on {{ site.name }}', values('v1'))).toBe(
      'fast on {{ site.name }}'
    )
    expect(normalizeValue('/srv/v1/data', '{{ site.root }}/data', values('v1'))).toBe(
      '{{ site.root }}/data'
    )
  })

  it('two sites from one template differ only where their config does; secrets compared, never shown', () => {
    const render = (name: string, password: string, mode: string) =>
      `[app]\ngreeting = hello from ${name}\ndb_url = postgres://app:${password}@db/${name}\nroot = /srv/${name}/data\nmode = ${mode} on ${name}\nplain = 1\n`
    const side = (name: string, password: string, mode: string) => ({
      text: render(name, password, mode),
      template: TEMPLATE,
      values: values(name)
    })
    const redact = (t: string) => t.split('pw-b-9999').join('***')
    const same = compareConfigs(side('v1', 'pw-a', 'fast'), side('v2', 'pw-a', 'fast'), redact)
    // db_url differs in its site name, but secrets are compared as they are: it is reported.
    expect(same.differences.map(d => d.key)).toEqual(['[app] db_url'])
    const r = compareConfigs(
      side('v1', 'pw-a-1234', 'fast'),
      side('v2', 'pw-b-9999', 'slow'),
      redact
    )
    expect(r.differences).toEqual([
      { key: '[app] db_url', a: '***', b: '***', secret: true },
      { key: '[app] mode', a: 'fast on v1', b: 'slow on v2', secret: false }
    ])
    expect(r.sameKeys).toBe(3)
    expect(JSON.stringify(r)).not.toMatch(/pw-/)
  })

  it('a secret value leaking into a non-secret key is redacted by value', () => {
    const r = compareConfigs(
      { text: '[a]\nnote = the key is pw-b-9999\n', template: null, values: null },
      { text: '[a]\nnote = nothing\n', template: null, values: null },
      t => t.split('pw-b-9999').join('***')
    )
    expect(r.differences).toEqual([
      { key: '[a] note', a: 'the key is ***', b: 'nothing', secret: false }
    ])
  })
})

describe('paths, packages, tables', () => {
  it('compares paths by hash, capping the listing but not the counts', () => {
    const r = comparePaths(
      { a: '1', b: '2', c: '3', d: '4' },
      { a: '1', b: 'x', c: 'y', e: '5' },
      1
    )
    expect(r).toEqual({
      same: false,
      counts: { same: 1, changed: 2, onlyA: 1, onlyB: 1 },
      changed: ['b'],
      onlyA: ['d'],
      onlyB: ['e']
    })
  })

  it('takes the version out of dist-info folder names', () => {
    expect(releasePathKey('lib/python3.11/site-packages/Foo_Bar-1.2.0rc1.dist-info/METADATA')).toBe(
      'lib/python3.11/site-packages/Foo_Bar-*.dist-info/METADATA'
    )
    expect(releasePathKey('lib/python3.11/site-packages/foo/bar.py')).toBe(
      'lib/python3.11/site-packages/foo/bar.py'
    )
  })

  it('compares packages by normalized name', () => {
    expect(
      comparePackages(
        [
          { name: 'Flask', version: '3.0.0' },
          { name: 'zope.interface', version: '6' },
          { name: 'old', version: '1' }
        ],
        [
          { name: 'flask', version: '3.0.1' },
          { name: 'zope-interface', version: '6' },
          { name: 'new', version: '2' }
        ]
      )
    ).toEqual({
      same: false,
      onlyA: ['old 1'],
      onlyB: ['new 2'],
      changed: [{ name: 'Flask', a: '3.0.0', b: '3.0.1' }],
      sameCount: 1
    })
  })

  it('compares tables: rows, checksums within one engine, columns', () => {
    const col = (name: string, type = 'TEXT', nullable = true) => ({ name, type, nullable })
    const a = {
      engine: 'sqlite',
      tables: [
        { table: 'same', rows: 1, checksum: 'x' },
        { table: 't', rows: 2, checksum: 'y' },
        { table: 'gone', rows: 0, checksum: 'z' }
      ],
      schema: [
        { table: 'same', columns: [col('id')] },
        { table: 't', columns: [col('id', 'INTEGER'), col('old')] },
        { table: 'gone', columns: [col('id')] }
      ]
    }
    const b = {
      engine: 'sqlite',
      tables: [
        { table: 'same', rows: 1, checksum: 'x' },
        { table: 't', rows: 2, checksum: 'y2' }
      ],
      schema: [
        { table: 'same', columns: [col('id')] },
        { table: 't', columns: [col('id', 'INTEGER', false), col('new')] }
      ]
    }
    const r = compareDatabases(a, b)
    expect(r.sameTables).toBe(1)
    expect(r.tables).toEqual([
      {
        table: 'gone',
        rows: { a: 0, b: null },
        checksum: 'not-comparable',
        columns: { onlyA: ['id'], onlyB: [], changed: [] }
      },
      {
        table: 't',
        rows: { a: 2, b: 2 },
        checksum: 'different',
        columns: { onlyA: ['old'], onlyB: ['new'], changed: ['id: INTEGER → INTEGER not null'] }
      }
    ])
    // Checksums of two engines are not comparable: only rows and columns count.
    const other = compareDatabases(a, { ...b, engine: 'postgres' })
    expect(other.tables.find(t => t.table === 't')?.checksum).toBe('not-comparable')
    expect(other.same).toBe(false)
  })
})

describe('secrets', () => {
  it('collects the values of every secret the sites name, and redacts every string of a report', () => {
    const yaml = `app: { package: demo, wsgi: 'demo:app' }
sites:
  v1:
    host: local
    root: /srv/v1
    url: http://127.0.0.1:1
    database: { engine: postgres, name: app, password_env: PG_PW }
    apache: { listen: '127.0.0.1:1' }
`
    const config = parseConfig(yaml, '/tmp/sitecycle.yml')
    const secrets = collectSecrets(
      [config.sites.v1],
      ['k = {{ secret.KEY }}'],
      { PG_PW: 'pg-pass-1', KEY: 'key-value-2', OTHER: 'not-a-secret' },
      ['extra-3']
    )
    expect(secrets.sort()).toEqual(['extra-3', 'key-value-2', 'pg-pass-1'])
    expect(
      redactStrings({ a: ['x pg-pass-1 y'], 'key-value-2': 3, n: null }, t =>
        t.split('pg-pass-1').join('***').split('key-value-2').join('***')
      )
    ).toEqual({ a: ['x *** y'], '***': 3, n: null })
  })
})

describe('database schema', () => {
  it('reads tables and columns of a real SQLite file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-schema-'))
    try {
      const db = path.join(dir, 'a b.sqlite')
      execFileSync('/usr/bin/python3', [
        '-c',
        'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, tag VARCHAR(20)); CREATE TABLE a (x)"); c.commit()',
        db
      ])
      expect(await schemaOf(new LocalExecutor(), { engine: 'sqlite', name: db })).toEqual([
        { table: 'a', columns: [{ name: 'x', type: '', nullable: true }] },
        {
          table: 'notes',
          columns: [
            { name: 'id', type: 'INTEGER', nullable: false },
            { name: 'body', type: 'TEXT', nullable: false },
            { name: 'tag', type: 'VARCHAR(20)', nullable: true }
          ]
        }
      ])
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  it('undoes mysql --batch escaping', () => {
    expect(unescapeMysqlBatch('["a\\\\"b", "c\\td\\ne"]')).toBe('["a\\"b", "c\td\ne"]')
  })
})
