import { execFileSync } from 'node:child_process'
import { link, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import { ConfigError } from '../../src/util/errors.js'
import {
  isDiskFull,
  parseDf,
  parseDu,
  rsyncFileInto,
  rsyncFileTo,
  rsyncFolder,
  snapshotFolderName,
  SUMMARIZE_TREE,
  type TreeSummary
} from '../../src/snapshots/files.js'
import {
  parseManifest,
  renderManifest,
  type SnapshotManifest
} from '../../src/snapshots/manifest.js'
import { describeAge, describeBytes, formatSnapshotList } from '../../src/snapshots/list.js'
import { compareTables, scratchDatabase } from '../../src/snapshots/verify.js'
import { retentionOf } from '../../src/snapshots/snapshot.js'

const base = `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1:
    root: /srv/demo/v1
    url: http://demo.example.org
`

describe('rsync argv', () => {
  test('a first copy: archive, delete, numeric ids, trailing slashes on both sides', () => {
    expect(
      rsyncFolder('/srv/v1/shared/uploads', '/srv/v1/snapshots/A/files/shared/uploads').argv
    ).toEqual([
      'rsync',
      '-a',
      '--delete',
      '--numeric-ids',
      '--modify-window=-1',
      '--',
      '/srv/v1/shared/uploads/',
      '/srv/v1/snapshots/A/files/shared/uploads/'
    ])
  })
  test('a later copy hard-links unchanged files to the previous snapshot', () => {
    const c = rsyncFolder('/s/up', '/s/snapshots/B/files/up', '/s/snapshots/A/files/up')
    expect(c.argv).toEqual([
      'rsync',
      '-a',
      '--delete',
      '--numeric-ids',
      '--modify-window=-1',
      '--link-dest=/s/snapshots/A/files/up',
      '--',
      '/s/up/',
      '/s/snapshots/B/files/up/'
    ])
  })
  test('a relative --link-dest is refused (rsync would read it against the target)', () => {
    expect(() => rsyncFolder('/s/up', '/t/up', 'snapshots/A/files/up')).toThrow(/absolute/)
  })
  test('a shared file: copied into its folder under its own name, hard-linked to the previous copy', () => {
    expect(
      rsyncFileInto(
        '/s/shared/local.ini',
        '/s/snapshots/B/files/shared',
        '/s/snapshots/A/files/shared'
      ).argv
    ).toEqual([
      'rsync',
      '-a',
      '--numeric-ids',
      '--modify-window=-1',
      '--link-dest=/s/snapshots/A/files/shared',
      '--',
      '/s/shared/local.ini',
      '/s/snapshots/B/files/shared/'
    ])
    expect(() => rsyncFileInto('/s/x', '/t', 'snapshots/A')).toThrow(/absolute/)
    // Staged by a restore: a copy at the sibling's path, never a link into the snapshot.
    expect(
      rsyncFileTo('/s/snapshots/A/files/shared/local.ini', '/s/shared/.local.ini.sc-new-1').argv
    ).toEqual([
      'rsync',
      '-a',
      '--numeric-ids',
      '--',
      '/s/snapshots/A/files/shared/local.ini',
      '/s/shared/.local.ini.sc-new-1'
    ])
  })
  test('folders keep the same name in every snapshot', () => {
    expect(snapshotFolderName('/srv/v1', '/srv/v1/shared/uploads')).toBe('shared/uploads')
    expect(snapshotFolderName('/srv/v1', '/var/media')).toBe('_absolute/var/media')
    expect(snapshotFolderName('/srv/v1', '/srv/v10/x')).toBe('_absolute/srv/v10/x')
  })
})

describe('parsing du and df, telling a full disk', () => {
  test('du lines', () => {
    expect(parseDu('123\t/a/b\n45\t/a/c d\n')).toEqual([
      { bytes: 123, path: '/a/b' },
      { bytes: 45, path: '/a/c d' }
    ])
  })
  test('df -P -B1', () => {
    const out =
      'Filesystem     1-blocks    Used Available Capacity Mounted on\ntmpfs           2097152 2097152         0     100% /tmp/x y/snapshots\n'
    expect(parseDf(out)).toEqual({
      filesystem: 'tmpfs',
      sizeBytes: 2097152,
      freeBytes: 0,
      mountedOn: '/tmp/x y/snapshots'
    })
    expect(parseDf('garbage')).toBeUndefined()
  })
  test('full disk messages of rsync, sqlite and the shell', () => {
    expect(isDiskFull('rsync: [receiver] write failed on "/x": No space left on device (28)')).toBe(
      true
    )
    expect(isDiskFull('Error: database or disk is full')).toBe(true)
    expect(isDiskFull('Permission denied')).toBe(false)
  })
})

describe('the file summary run on the host', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitecycle-summary-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))
  const summarize = (mode: string, path: string) =>
    JSON.parse(
      execFileSync('/usr/bin/python3', ['-I', '-S', '-c', SUMMARIZE_TREE, mode, path], {
        encoding: 'utf8'
      })
    ) as TreeSummary

  test('counts files and bytes; the list hash follows names, sizes and mtimes, not links', async () => {
    await mkdir(join(dir, 'a/sub'), { recursive: true })
    await writeFile(join(dir, 'a/one.txt'), 'hello')
    await writeFile(join(dir, 'a/sub/two.bin'), Buffer.alloc(1000, 1))
    await utimes(join(dir, 'a/one.txt'), 1700000000, 1700000000)
    await utimes(join(dir, 'a/sub/two.bin'), 1700000000, 1700000000)
    const first = summarize('list', join(dir, 'a'))
    expect(first).toMatchObject({ exists: true, count: 2, bytes: 1005 })
    // A copy made of hard links has the same list.
    await mkdir(join(dir, 'b/sub'), { recursive: true })
    await link(join(dir, 'a/one.txt'), join(dir, 'b/one.txt'))
    await link(join(dir, 'a/sub/two.bin'), join(dir, 'b/sub/two.bin'))
    expect(summarize('list', join(dir, 'b')).sha256).toBe(first.sha256)
    // Touching a file changes it.
    await utimes(join(dir, 'b/one.txt'), 1700000001, 1700000001)
    expect(summarize('list', join(dir, 'b')).sha256).not.toBe(first.sha256)
  })
  test('content mode hashes bytes: one flipped byte changes it; a missing path says so', async () => {
    await writeFile(join(dir, 'dump'), 'abcdef')
    const a = summarize('content', join(dir, 'dump'))
    await writeFile(join(dir, 'dump'), 'abcdeF')
    const b = summarize('content', join(dir, 'dump'))
    expect(a).toMatchObject({ exists: true, count: 1, bytes: 6 })
    expect(b.sha256).not.toBe(a.sha256)
    expect(summarize('content', join(dir, 'nothing')).exists).toBe(false)
  })
})

const manifest: SnapshotManifest = {
  format: 1,
  id: '20240330T030000Z',
  site: 'v1',
  host: 'local',
  root: '/srv/demo/v1',
  createdAt: '2024-03-30T03:00:00.000Z',
  finishedAt: '2024-03-30T03:00:05.000Z',
  live: '1.4.0',
  sitecycleVersion: '0.1.0',
  previous: null,
  database: {
    engine: 'postgres',
    name: 'weave_v1',
    dump: 'database.dump',
    format: 'custom',
    size: 10,
    sha256: 'ab',
    databaseSize: 100,
    tables: [{ table: 'users', rows: 2, checksum: 'c1' }],
    checksumsFrom: 'live'
  },
  files: { count: 1, bytes: 5, folders: [] }
}

describe('the manifest', () => {
  test('round-trips', () => {
    expect(parseManifest(renderManifest(manifest), 'm.json')).toEqual(manifest)
  })
  test('a shared file is a record of kind file; a folder has no kind (older manifests read alike)', () => {
    const folder = {
      source: '/srv/demo/v1/shared/media',
      name: 'shared/media',
      missing: false,
      count: 2,
      bytes: 9,
      listSha256: 'l1'
    }
    const file = {
      ...folder,
      source: '/srv/demo/v1/shared/local.ini',
      name: 'shared/local.ini',
      kind: 'file' as const,
      count: 1
    }
    const m = { ...manifest, files: { count: 3, bytes: 18, folders: [folder, file] } }
    const text = renderManifest(m)
    expect(parseManifest(text, 'm.json')).toEqual(m)
    expect((JSON.parse(text) as SnapshotManifest).files.folders.map(f => f.kind)).toEqual([
      undefined,
      'file'
    ])
    const odd = text.replace('"kind": "file"', '"kind": "socket"')
    expect(() => parseManifest(odd, 'm.json')).toThrow(/files\.folders\.1\.kind/)
  })
  test('a manifest missing its checksums is refused, naming the file and the field', () => {
    const broken = JSON.parse(renderManifest(manifest)) as Record<string, unknown>
    delete (broken.database as Record<string, unknown>).tables
    expect(() => parseManifest(JSON.stringify(broken), '/s/m.json on local')).toThrow(
      /\/s\/m\.json on local is not a snapshot manifest: database\.tables/
    )
    expect(() => parseManifest('{', 'x')).toThrow(/x is not JSON/)
  })
})

describe('verify helpers', () => {
  test('scratch databases are named <name>__sc_verify_<tag>, within 63 bytes', () => {
    expect(scratchDatabase({ engine: 'postgres', name: 'weave' }, 'ab12').name).toBe(
      'weave__sc_verify_ab12'
    )
    expect(scratchDatabase({ engine: 'sqlite', name: '/srv/db.sqlite3' }, 'ab12').name).toBe(
      '/srv/db.sqlite3__sc_verify_ab12'
    )
    const long = scratchDatabase({ engine: 'mysql', name: 'x'.repeat(63) }, 'ab12').name
    expect(long.length).toBe(63)
    expect(long.endsWith('__sc_verify_ab12')).toBe(true)
  })
  test('tables are compared by rows and checksum, and missing ones named', () => {
    const c = compareTables(
      [
        { table: 'a', rows: 1, checksum: 'x' },
        { table: 'b', rows: 2, checksum: 'y' },
        { table: 'c', rows: 0, checksum: 'z' }
      ],
      [
        { table: 'a', rows: 1, checksum: 'x' },
        { table: 'b', rows: 2, checksum: 'Y' },
        { table: 'd', rows: 0, checksum: 'z' }
      ]
    )
    expect(c.map(t => [t.table, t.ok])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
      ['d', false]
    ])
  })
  test('a checksum of an older scheme (a snapshot of an older sitecycle) is compared by rows only', () => {
    const old = [{ table: 'a', rows: 3, checksum: '0cc175b9c0f1b6a831c399e269772661' }]
    expect(compareTables(old, [{ table: 'a', rows: 3, checksum: 'h1:123' }])[0].ok).toBe(true)
    expect(compareTables(old, [{ table: 'a', rows: 4, checksum: 'h1:123' }])[0].ok).toBe(false)
    expect(
      compareTables(
        [{ table: 'a', rows: 3, checksum: 'h1:1' }],
        [{ table: 'a', rows: 3, checksum: 'h1:2' }]
      )[0].ok
    ).toBe(false)
  })
})

describe('the listing', () => {
  test('ages and sizes for people', () => {
    expect(describeAge(42)).toBe('42s')
    expect(describeAge(3 * 86400 + 4 * 3600 + 5)).toBe('3d 4h')
    expect(describeBytes(900)).toBe('900 B')
    expect(describeBytes(1536)).toBe('1.5 KB')
    const text = formatSnapshotList('v1', [
      {
        id: '20240330T030000Z',
        takenAt: '',
        ageSeconds: 3600,
        complete: true,
        live: '1.4.0',
        format: 2,
        bytes: 2048,
        diskBytes: 1024,
        database: null,
        files: null
      },
      {
        id: '20240331T030000Z',
        takenAt: '',
        ageSeconds: 60,
        complete: false,
        live: null,
        format: null,
        bytes: null,
        diskBytes: 10,
        database: null,
        files: null
      }
    ])
    expect(text.split('\n')).toEqual([
      'snapshot          age    size    on disk  live',
      '20240330T030000Z  1h 0m  2.0 KB  1.0 KB   1.4.0',
      '20240331T030000Z  1m     -       10 B     -      incomplete'
    ])
  })
})

describe('config: database, data and snapshots', () => {
  test('are read into the site, data folders resolved against the root', () => {
    const c = parseConfig(
      `${base}    database: { engine: postgres, name: weave_v1, host: 127.0.0.1, port: 5432, user: weave, password_env: DB_PASSWORD }
    data: [shared/uploads, /var/media/]
    snapshots: { keep_last: 2, daily: 10 }
`,
      '/repo/sitecycle.yml'
    )
    const site = c.sites.v1
    expect(site.database).toEqual({
      engine: 'postgres',
      name: 'weave_v1',
      host: '127.0.0.1',
      port: 5432,
      user: 'weave',
      passwordEnv: 'DB_PASSWORD'
    })
    expect(site.data).toEqual(['/srv/demo/v1/shared/uploads', '/var/media'])
    expect(site.snapshots).toEqual({ last: 2, daily: 10, weekly: 4, monthly: 6 })
    expect(retentionOf(site)).toEqual({ last: 2, daily: 10, weekly: 4, monthly: 6 })
  })
  test('without them: no database, no data, the default retention', () => {
    const site = parseConfig(base, '/repo/sitecycle.yml').sites.v1
    expect(site.database).toBeUndefined()
    expect(site.data).toBeUndefined()
    expect(retentionOf(site)).toEqual({ last: 3, daily: 7, weekly: 4, monthly: 6 })
  })
  test('every mistake is reported with its line', () => {
    const text = `${base}    database: { engine: sqlite, name: db.sqlite3, user: x }
    data: [../etc, snapshots/old, /srv/demo/v1/.sitecycle/x, ok]
    snapshots: { keep_last: 0, hourly: 3 }
  v2:
    root: /srv/demo/v2
    url: http://demo.example.org
    database: { engine: oracle, name: x }
`
    let error: ConfigError | undefined
    try {
      parseConfig(text, '/repo/sitecycle.yml')
    } catch (e) {
      error = e as ConfigError
    }
    expect(error).toBeInstanceOf(ConfigError)
    const lines = error!.message.split('\n')
    const expectLine = (pattern: RegExp) => expect(lines.find(l => pattern.test(l))).toBeDefined()
    expectLine(/^\/repo\/sitecycle\.yml:6:\d+: sites\.v1\.database\.name: .*not an absolute path/)
    expectLine(
      /^\/repo\/sitecycle\.yml:6:\d+: sites\.v1\.database\.user: .*not a setting of a sqlite database/
    )
    expectLine(/^\/repo\/sitecycle\.yml:7:\d+: sites\.v1\.data\[0\]: .*contains '\.\.'/)
    expectLine(/^\/repo\/sitecycle\.yml:7:\d+: sites\.v1\.data\[1\]: .*inside snapshots\//)
    expectLine(/^\/repo\/sitecycle\.yml:8:\d+: sites\.v1\.snapshots\.keep_last: /)
    expectLine(/^\/repo\/sitecycle\.yml:8:\d+: sites\.v1\.snapshots.*hourly/)
    expectLine(
      /^\/repo\/sitecycle\.yml:12:\d+: sites\.v2\.database\.engine: .*postgres, mysql or sqlite/
    )
  })
  test('an absolute data folder inside the site state is refused after loading, with its line', () => {
    expect(() =>
      parseConfig(
        `${base}    data: [shared/uploads, /srv/demo/v1/.sitecycle/x]\n`,
        '/repo/sitecycle.yml'
      )
    ).toThrow(
      /sitecycle\.yml:6:\d+: sites\.v1\.data\[1\]: "\/srv\/demo\/v1\/\.sitecycle\/x" is inside the site's \.sitecycle\//
    )
  })
})
