/**
 * On a real Apache with the sample application: `shared:` entries (issue #12). init makes them
 * for the Apache user; every release links to them and gets their paths in its environment; a
 * hook writes through a release's link; the data outlives a deploy of another version, a
 * rollback and the prune of an old release; Apache serves the `url:` folder (never running it,
 * frozen with the site); a snapshot holds the folders and the file (in SHA256SUMS, hard-linked
 * when unchanged, checked by verify) and a restore brings them back with the Apache user as owner
 * and the entry's mode.
 */
import { execFileSync } from 'node:child_process'
import {
  lstat,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
  chown,
  chmod,
  readdir,
  utimes
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { restoreSite } from '../../src/pipelines/restore.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { freeze, unfreeze } from '../../src/sites/maintenance.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { watchSite } from '../../src/watch/watch.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

let apache: TestApache
let site: TestSite
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()
const apacheUid = Number(execFileSync('id', ['-u', 'www-data']).toString().trim())
const apacheGid = Number(execFileSync('id', ['-g', 'www-data']).toString().trim())

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sample-key-unused-here'
  process.env.SITECYCLE_ACCESS_PASSWORD = PASSWORD
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-shared-releases-'))
  await Promise.all(
    ['1.0.0', '2.0.0', '3.0.0'].map(version =>
      buildSampleRelease({ version, releasesDir: releases })
    )
  )
  apache = await startApache()
  site = await makeTestSite({
    apache,
    keepReleases: 2,
    // A protected site: the shared folder asks for the password too.
    siteYaml: 'access: { basic_auth: true }',
    wsgi: "sitecycle_sample.wsgi:create_app('shared', show='MEDIA_ROOT,SITECYCLE_SHARED')",
    appYaml: [
      'env:',
      '  MEDIA_ROOT: "{{ shared.media }}"',
      'shared:',
      '  - { path: instance, link: var/sample-instance }',
      '  - { path: media, url: /media/ }',
      "  - { path: local.ini, kind: file, mode: '0640' }"
    ].join('\n'),
    hooks: [
      'python -m sitecycle_sample.manage check',
      // Through the release's link, into shared/instance.
      'python -m sitecycle_sample.manage env --out var/sample-instance/hook.txt SITECYCLE_VERSION'
    ]
  })
}, 600_000)

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

const shared = (...p: string[]) => join(site.root, 'shared', ...p)
const PASSWORD = 'shared-data-pw-5521'
const AUTH = { Authorization: `Basic ${Buffer.from(`sitecycle:${PASSWORD}`).toString('base64')}` }
/** GET as a user of the protected site (with its password), or without it. */
const get = (path: string, auth = true) => httpGet(`${site.url}${path}`, auth ? AUTH : {})

async function deployVersion(version: string) {
  const o = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version
  })
  expect(o.status).toBe('deployed')
}

test('init creates the shared folders and file for the Apache user, with their modes', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  for (const [path, mode, dir] of [
    ['instance', 0o770, true],
    ['media', 0o770, true],
    ['local.ini', 0o640, false]
  ] as const) {
    const s = await stat(shared(path))
    expect([path, s.isDirectory(), s.mode & 0o7777, s.uid, s.gid]).toEqual([
      path,
      dir,
      mode,
      apacheUid,
      apacheGid
    ])
  }
  // Run again: existing entries are left as they are.
  await writeFile(shared('local.ini'), '[local]\nkey = 1\n')
  await chmod(shared('media'), 0o750)
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(await readFile(shared('local.ini'), 'utf8')).toBe('[local]\nkey = 1\n')
  expect((await stat(shared('media'))).mode & 0o7777).toBe(0o750)
  await chmod(shared('media'), 0o770)
})

test('each release links to the shared folder and gets its paths; the data outlives deploys, a rollback and a prune', async () => {
  await deployVersion('1.0.0')
  const link = join(site.root, 'releases', '1.0.0', 'var', 'sample-instance')
  expect((await lstat(link)).isSymbolicLink()).toBe(true)
  expect(await readlink(link)).toBe(shared('instance'))
  expect(await readFile(shared('instance', 'hook.txt'), 'utf8')).toBe('SITECYCLE_VERSION=1.0.0\n')
  expect((await get('/factory')).body).toBe(
    ['shared', `MEDIA_ROOT=${shared('media')}`, `SITECYCLE_SHARED=${shared()}`].join('\n')
  )
  // What users uploaded while 1.0.0 was live.
  await writeFile(shared('media', 'upload-1.txt'), 'uploaded under 1.0.0\n')

  await deployVersion('2.0.0')
  expect(await readlink(join(site.root, 'releases', '2.0.0', 'var', 'sample-instance'))).toBe(
    shared('instance')
  )
  expect(await readFile(shared('instance', 'hook.txt'), 'utf8')).toBe('SITECYCLE_VERSION=2.0.0\n')
  expect(await readFile(shared('media', 'upload-1.txt'), 'utf8')).toBe('uploaded under 1.0.0\n')
  await writeFile(shared('media', 'upload-2.txt'), 'uploaded under 2.0.0\n')

  const back = await rollback({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(back.status).toBe('rolled-back')
  expect((await get('/__version__')).body).toBe('1.0.0')
  expect(await readFile(shared('media', 'upload-2.txt'), 'utf8')).toBe('uploaded under 2.0.0\n')

  // keep_releases 2: live 3.0.0 and idle 1.0.0 stay, 2.0.0 is pruned; its link goes, not the data.
  await deployVersion('3.0.0')
  await expect(stat(join(site.root, 'releases', '2.0.0'))).rejects.toThrow(/ENOENT/)
  expect(await readFile(shared('instance', 'hook.txt'), 'utf8')).toBe('SITECYCLE_VERSION=3.0.0\n')
  expect(await readFile(shared('media', 'upload-1.txt'), 'utf8')).toBe('uploaded under 1.0.0\n')
  expect(await readFile(shared('media', 'upload-2.txt'), 'utf8')).toBe('uploaded under 2.0.0\n')
  expect((await stat(shared('media'))).uid).toBe(apacheUid)
  // watch: the link is the release's own (not an added file) while it points at shared/.
  const report = await watchSite({ config: site.config, site: site.site, exec })
  expect(report.files).toMatchObject({ status: 'ok', counts: { added: 0 } })
}, 600_000)

test("Apache serves the url: folder as files: no listing, no script run, nosniff, behind the site's basic auth, frozen with the site", async () => {
  await writeFile(shared('media', 'hello.txt'), 'hello from media\n')
  await writeFile(shared('media', 'evil.wsgi'), 'def application(e, s): pass\n')
  const r = await fetch(`${site.url}/media/hello.txt`, { headers: AUTH })
  expect(r.status).toBe(200)
  expect(await r.text()).toBe('hello from media\n')
  expect(r.headers.get('x-content-type-options')).toBe('nosniff')
  expect(await get('/media/evil.wsgi')).toEqual({
    status: 200,
    body: 'def application(e, s): pass'
  })
  // No listing (403, or 404 where mod_autoindex is not loaded).
  const listing = await get('/media/')
  expect([403, 404]).toContain(listing.status)
  expect(listing.body).not.toContain('hello.txt')
  expect((await get('/media/missing.txt')).status).toBe(404)
  expect((await get('/media/hello.txt', false)).status).toBe(401)
  // The rest of the site still goes to the application.
  expect((await get('/__version__')).body).toBe('3.0.0')
  await freeze(exec, site.site, '/usr/bin/python3')
  try {
    expect((await get('/media/hello.txt')).status).toBe(503)
  } finally {
    await unfreeze(exec, site.site)
  }
  expect((await get('/media/hello.txt')).status).toBe(200)
})

test('a snapshot holds the shared folders and file; a restore brings them back to the Apache user with their mode', async () => {
  // Files the test wrote are root's; the folder too, as after a copy by hand: the snapshot keeps
  // those owners (rsync --numeric-ids), and the restore gives them back to the Apache user.
  await chown(shared('media'), 0, 0)
  await chmod(shared('media'), 0o755)
  expect((await stat(shared('media', 'upload-1.txt'))).uid).toBe(0)
  const snap = await takeSnapshot({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    progressIntervalMs: 0
  })
  expect(snap.manifest.files.folders.map(f => [f.name, f.kind ?? 'folder']).sort()).toEqual([
    ['shared/instance', 'folder'],
    ['shared/local.ini', 'file'],
    ['shared/media', 'folder']
  ])
  // The shared file: one copy under files/, its sum in the manifest and in SHA256SUMS.
  const ini = snap.manifest.files.folders.find(f => f.name === 'shared/local.ini')!
  expect(ini).toMatchObject({ source: shared('local.ini'), count: 1, missing: false })
  expect(ini.files!.map(f => f.path)).toEqual(['files/shared/local.ini'])
  expect(await readFile(join(snap.dir, 'files', 'shared', 'local.ini'), 'utf8')).toBe(
    '[local]\nkey = 1\n'
  )
  expect(await readFile(join(snap.dir, 'SHA256SUMS'), 'utf8')).toContain(
    `${ini.files![0].sha256}  files/shared/local.ini\n`
  )
  execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: snap.dir })

  await rm(shared('media', 'upload-1.txt'))
  await writeFile(shared('media', 'added-later.txt'), 'x')
  // The file changed after the snapshot, and handed to root with another mode.
  await writeFile(shared('local.ini'), '[local]\nkey = 2\n')
  await chown(shared('local.ini'), 0, 0)
  await chmod(shared('local.ini'), 0o600)
  const o = await restoreSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'restored', snapshot: snap.id })
  expect(await readFile(shared('media', 'upload-1.txt'), 'utf8')).toBe('uploaded under 1.0.0\n')
  await expect(stat(shared('media', 'added-later.txt'))).rejects.toThrow(/ENOENT/)
  for (const path of [
    'media',
    'media/upload-1.txt',
    'instance',
    'instance/hook.txt',
    'local.ini'
  ]) {
    const s = await stat(shared(path))
    expect([path, s.uid, s.gid]).toEqual([path, apacheUid, apacheGid])
  }
  expect((await stat(shared('media'))).mode & 0o7777).toBe(0o770)
  expect((await get('/media/upload-1.txt')).body).toBe('uploaded under 1.0.0')
  // The file: the snapshot's content, the entry's mode; a copy, not the snapshot's inode.
  expect(await readFile(shared('local.ini'), 'utf8')).toBe('[local]\nkey = 1\n')
  expect((await stat(shared('local.ini'))).mode & 0o7777).toBe(0o640)
  expect((await stat(shared('local.ini'))).ino).not.toBe(
    (await stat(join(snap.dir, 'files', 'shared', 'local.ini'))).ino
  )
  expect((await readdir(shared())).filter(n => n.includes('.sc-'))).toEqual([])
})

test('an unchanged shared file is hard-linked between snapshots; verify catches a flipped byte in it', async () => {
  const take = () =>
    takeSnapshot({
      config: site.config,
      site: site.site,
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })
  const a = await take()
  const b = await take()
  const copy = (dir: string) => join(dir, 'files', 'shared', 'local.ini')
  expect((await stat(copy(b.dir))).ino).toBe((await stat(copy(a.dir))).ino)
  expect(
    (await verifySnapshot({ config: site.config, site: site.site, exec, reporter: reporter() }))
      .snapshot
  ).toBe(b.id)

  // One byte flipped, size and mtime kept: only the content sums can tell.
  const before = await stat(copy(b.dir))
  const bytes = await readFile(copy(b.dir))
  bytes[bytes.length - 2] ^= 0x01
  await writeFile(copy(b.dir), bytes)
  await utimes(copy(b.dir), before.atime, before.mtime)
  await expect(
    verifySnapshot({ config: site.config, site: site.site, exec, reporter: reporter() })
  ).rejects.toThrow(/files\/shared\/local\.ini/)
  expect(() => execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: b.dir })).toThrow()
})
