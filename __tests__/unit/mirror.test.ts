/**
 * Mirrors, the pure parts: which snapshot a lag picks, where the snapshot's data folders go on
 * the mirror, the `from` and `lag` settings and the errors of a mirror set up wrong.
 */
import { parseConfig } from '../../src/config/load-config.js'
import { parseDuration } from '../../src/config/schema.js'
import {
  chooseMirrorSnapshot,
  mirrorPlan,
  mirrorSource,
  placeFolders
} from '../../src/pipelines/mirror.js'
import { ConfigError } from '../../src/util/errors.js'
import type { SnapshotManifest } from '../../src/snapshots/manifest.js'

const ids = [
  '20240301T020000Z',
  '20240302T020000Z',
  '20240302T020000Z-1',
  '20240303T020000Z',
  'not-a-snapshot'
]

describe('chooseMirrorSnapshot', () => {
  test('the newest snapshot at least the lag old', () => {
    const now = new Date('2024-03-04T03:00:00Z')
    expect(chooseMirrorSnapshot(ids, 86_400, now)).toBe('20240303T020000Z')
    expect(chooseMirrorSnapshot(ids, 2 * 86_400, now)).toBe('20240302T020000Z-1')
    expect(chooseMirrorSnapshot(ids, 3 * 86_400, now)).toBe('20240301T020000Z')
  })

  test('a snapshot exactly the lag old counts; one a second younger does not', () => {
    expect(chooseMirrorSnapshot(ids, 86_400, new Date('2024-03-04T02:00:00Z'))).toBe(
      '20240303T020000Z'
    )
    expect(chooseMirrorSnapshot(ids, 86_401, new Date('2024-03-04T02:00:00Z'))).toBe(
      '20240302T020000Z-1'
    )
  })

  test('none old enough, or none at all: undefined', () => {
    expect(chooseMirrorSnapshot(ids, 30 * 86_400, new Date('2024-03-04T03:00:00Z'))).toBe(undefined)
    expect(chooseMirrorSnapshot([], 60, new Date())).toBe(undefined)
  })

  test('the order of the ids does not matter', () => {
    const now = new Date('2024-03-04T03:00:00Z')
    expect(chooseMirrorSnapshot([...ids].reverse(), 2 * 86_400, now)).toBe('20240302T020000Z-1')
  })
})

describe('placeFolders', () => {
  const manifest = (names: string[], missing: string[] = []) => ({
    files: {
      count: 0,
      bytes: 0,
      folders: names.map(name => ({
        source: `/srv/v1/${name}`,
        name,
        missing: missing.includes(name),
        count: 0,
        bytes: 0,
        listSha256: ''
      }))
    }
  })

  test('by the same path under each root, then by position; the rest unplaced', () => {
    const r = placeFolders(manifest(['shared/media', 'shared/uploads', '_absolute/var/x']), {
      root: '/srv/m1',
      data: ['/srv/m1/shared/other', '/srv/m1/shared/uploads']
    })
    expect(r.placed).toEqual([
      { name: 'shared/uploads', file: false, target: '/srv/m1/shared/uploads' },
      { name: 'shared/media', file: false, target: '/srv/m1/shared/other' }
    ])
    expect(r.unplaced).toEqual(['_absolute/var/x'])
  })

  test('a shared file only to a shared file entry, a folder only to a folder', () => {
    const m: Pick<SnapshotManifest, 'files'> = manifest(['shared/local.ini', 'shared/media'])
    m.files.folders[0] = { ...m.files.folders[0], kind: 'file' as const }
    const fileEntry = {
      path: 'local.ini',
      absolute: '/srv/m1/shared/local.ini',
      kind: 'file' as const,
      mode: 0o660,
      name: 'local_ini',
      snapshot: true,
      key: 'app.shared[0]'
    }
    expect(
      placeFolders(m, {
        root: '/srv/m1',
        data: ['/srv/m1/shared/local.ini', '/srv/m1/shared/media'],
        shared: [fileEntry]
      })
    ).toEqual({
      placed: [
        { name: 'shared/local.ini', file: true, target: '/srv/m1/shared/local.ini' },
        { name: 'shared/media', file: false, target: '/srv/m1/shared/media' }
      ],
      unplaced: []
    })
    // The mirror lists the path as a data folder: the file has no place there.
    expect(
      placeFolders(m, {
        root: '/srv/m1',
        data: ['/srv/m1/shared/local.ini', '/srv/m1/shared/media']
      })
    ).toEqual({
      placed: [{ name: 'shared/media', file: false, target: '/srv/m1/shared/media' }],
      unplaced: ['shared/local.ini']
    })
  })

  test('a folder missing from the snapshot is not placed', () => {
    const r = placeFolders(manifest(['shared/uploads'], ['shared/uploads']), {
      root: '/srv/m1',
      data: ['/srv/m1/shared/uploads']
    })
    expect(r).toEqual({ placed: [], unplaced: [] })
  })
})

describe('from and lag in sitecycle.yml', () => {
  const load = (sites: string) =>
    parseConfig(
      `app: { package: p, wsgi: "p.wsgi:application" }\nsites:\n  v1: { root: /srv/v1, url: "http://127.0.0.1:8081" }\n${sites}`,
      '/cfg/sitecycle.yml'
    )

  test.each([
    ['1d', 86_400],
    ['7d', 604_800],
    ['30d', 2_592_000],
    ['12h', 43_200],
    ['1w2d', 777_600],
    ['90m', 5_400]
  ])('parseDuration(%s) = %d', (text, seconds) => expect(parseDuration(text)).toBe(seconds))

  test.each(['', '0d', '7', 'd', '1.5d', '7 d', '1y'])('parseDuration(%j) is not a duration', t =>
    expect(parseDuration(t)).toBeUndefined()
  )

  test('a mirror with from and lag; a bare number of days is read as days', () => {
    const c = load(
      '  m7: { role: mirror, from: v1, lag: 7d, root: /srv/m7, url: "http://127.0.0.1:8082" }\n' +
        '  m30: { role: mirror, from: v1, lag: 30, root: /srv/m30, url: "http://127.0.0.1:8083" }'
    )
    expect(c.sites.m7).toMatchObject({ from: 'v1', lag: { text: '7d', seconds: 604_800 } })
    expect(c.sites.m30.lag).toEqual({ text: '30d', seconds: 2_592_000 })
    expect(c.sites.v1.from).toBeUndefined()
    expect(c.sites.m7.access?.basicAuth).toBeDefined()
  })

  test('bad values are config errors naming the line and the expected form', () => {
    expect(() =>
      load(
        '  m1: { role: mirror, from: v9, lag: 1 day, root: /srv/m1, url: "http://127.0.0.1:8082" }'
      )
    ).toThrow(/sitecycle\.yml:4:\d+: sites\.m1\.lag: .*expected a duration such as 1d, 7d, 30d/)
    let err: unknown
    try {
      load(
        '  m1: { role: mirror, from: v9, lag: 1d, root: /srv/m1, url: "http://127.0.0.1:8082" }\n' +
          '  p: { role: preview, from: p, lag: 1d, root: /srv/p, url: "http://127.0.0.1:8083" }'
      )
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const text = (err as Error).message
    expect(text).toMatch(
      /:4:\d+: sites\.m1\.from: "v9" is not a site of this file; expected another site: p, m1|:4:\d+: sites\.m1\.from: "v9" is not a site of this file; expected another site: /
    )
    expect(text).toMatch(/:5:\d+: sites\.p\.from: the site itself/)
    expect(text).toMatch(
      /:5:\d+: sites\.p\.lag: lag is for mirror sites, and this one has role preview/
    )
  })

  test("a lag beyond the source's retention is a config error naming both", () => {
    const yaml = (snapshots: string, lag: string) =>
      `app: { package: p, wsgi: "p.wsgi:application" }\nsites:\n  v1:\n    root: /srv/v1\n    url: "http://127.0.0.1:8081"\n${snapshots}  m:\n    role: mirror\n    from: v1\n    lag: ${lag}\n    root: /srv/m\n    url: "http://127.0.0.1:8082"\n`
    // The defaults (daily 7, weekly 4, monthly 6) hold snapshots 140 days back.
    expect(parseConfig(yaml('', '140d'), '/cfg/sitecycle.yml').sites.m.lag?.seconds).toBe(
      140 * 86_400
    )
    expect(() => parseConfig(yaml('', '141d'), '/cfg/sitecycle.yml')).toThrow(
      /^\/cfg\/sitecycle\.yml:9:10: sites\.m\.lag: 141d is longer than site v1 keeps snapshots: sites\.v1\.snapshots \(daily: 7, weekly: 4, monthly: 6, the defaults\) keeps none surely older than 140d; expected a lag of at most 140d, or sites\.v1\.snapshots\.daily of at least 142/
    )
    const weekOnly = '    snapshots: { keep_last: 3, daily: 7, weekly: 0, monthly: 0 }\n'
    expect(() => parseConfig(yaml(weekOnly, '6d'), '/cfg/sitecycle.yml')).not.toThrow()
    expect(() => parseConfig(yaml(weekOnly, '7d'), '/cfg/sitecycle.yml')).toThrow(
      /sitecycle\.yml:10:10: sites\.m\.lag: 7d is longer than site v1 keeps snapshots: sites\.v1\.snapshots \(daily: 7, weekly: 0, monthly: 0\) keeps none surely older than 6d/
    )
    const lastOnly = '    snapshots: { keep_last: 50, daily: 0, weekly: 0, monthly: 0 }\n'
    expect(() => parseConfig(yaml(lastOnly, '1d'), '/cfg/sitecycle.yml')).toThrow(
      /sites\.m\.lag: 1d is longer than site v1 keeps snapshots: .*keep_last keeps the newest, whatever their age\); expected sites\.v1\.snapshots\.daily of at least 2/
    )
  })

  test('refreshing a site that is no mirror, or a mirror without from or lag, names what to set', () => {
    const c = load(
      '  m1: { role: mirror, root: /srv/m1, url: "http://127.0.0.1:8082" }\n' +
        '  m2: { role: mirror, from: v1, lag: 2d, root: /srv/m2, url: "http://127.0.0.1:8083" }'
    )
    expect(() => mirrorSource(c, c.sites.v1)).toThrow(/has role production, not mirror/)
    expect(() => mirrorSource(c, c.sites.m1)).toThrow(
      /mirror site m1 has no from and no lag in \/cfg\/sitecycle\.yml; expected such as sites\.m1\.from: v1/
    )
    expect(mirrorSource(c, c.sites.m2)).toEqual({
      source: c.sites.v1,
      lag: { text: '2d', seconds: 172_800 }
    })
  })
})

test('the plan names every step in order', () => {
  expect(mirrorPlan().map(l => l.replace(/^\s*\d+\. ([a-z-]+):.*$/, '$1'))).toEqual([
    'choose-snapshot',
    'forget-shown',
    'stage-database',
    'stage-files',
    'swap-data',
    'read-only-database',
    'record-shown',
    'reload-app',
    'cleanup'
  ])
})
