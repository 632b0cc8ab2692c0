/**
 * Bad input through the real CLI against a live site on a private Apache: each is refused with
 * exit 2 and one message naming what is wrong and where, before anything on the host changes
 * (the site root and the Apache conf dir are byte-for-byte and mtime-for-mtime the same, and
 * the journal gets no line).
 */
import { execFile } from 'node:child_process'
import { copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { digestFile, readManifest, writeManifest } from '../../src/releases/manifest.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { diffTrees, snapshotTree, type TreeSnapshot } from '../helpers/tree.js'

const SECRET = 'bad-input-secret-0123456789'
const run = promisify(execFile)

let apache: TestApache
let site: TestSite
let work: string
let releases: string
let config: string
let journalPath: string

beforeAll(async () => {
  work = await makeTempDir('sitecycle-bad-input-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  site = await makeTestSite({ apache })
  config = join(site.dir, 'sitecycle.yml')
  journalPath = join(site.root, '.sitecycle', 'journal.jsonl')
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--release', releases, '--version', '1.0.0']
  ]) {
    const r = await runCli([...args, '-c', config], { env: { SAMPLE_SECRET_KEY: SECRET } })
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

interface HostSnapshot {
  root: TreeSnapshot
  apacheConf: TreeSnapshot
  journal: string
}

async function snapshotHost(): Promise<HostSnapshot> {
  return {
    // Apache appends to the site's request logs on its own time (the last request of a test may
    // be logged after the next snapshot); the directory itself is still compared.
    root: await snapshotTree(site.root, {
      ignore: rel => /^shared\/logs\/(access|error)\.log$/.test(rel)
    }),
    apacheConf: await snapshotTree(apache.confDir),
    journal: await readFile(journalPath, 'utf8')
  }
}

/**
 * Run the CLI with bad input; expect exit 2 with one message on stderr, nothing on the host
 * changed, and the live release still served. Returns the message.
 */
async function expectRefused(
  args: string[],
  env: Record<string, string | undefined> = {}
): Promise<string> {
  const before = await snapshotHost()
  const r: CliResult = await runCli([...args], { env: { SAMPLE_SECRET_KEY: SECRET, ...env } })
  expectExit(r, 2)
  expect(r.stderr).toMatch(/^sitecycle: /)
  // Nothing was started: no step progress, no outcome.
  expect(r.stderr).not.toMatch(/preflight|deploying/)
  expect(r.stdout).toBe('')
  const after = await snapshotHost()
  expect(diffTrees(before.root, after.root)).toEqual([])
  expect(diffTrees(before.apacheConf, after.apacheConf)).toEqual([])
  expect(after.journal).toBe(before.journal)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  return r.stderr.replace(/^sitecycle: /, '').trim()
}

/** A release directory holding one archive and a manifest that is right about it (sha256, size). */
async function releaseWithArchive(dir: string, archive: string, like: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  const manifest = await readManifest(join(like, 'manifest.json'))
  const kind = archive.endsWith('.whl') ? 'wheel' : 'sdist'
  const { sha256, size } = await digestFile(archive)
  const name = basename(archive)
  await copyFile(archive, join(dir, name))
  await writeManifest(dir, { ...manifest, files: [{ name, kind, sha256, size }] })
  return dir
}

/** Rewrite an archive with one extra entry `../evil` (Python's zipfile and tarfile write any name). */
async function addEscapingEntry(src: string, dst: string): Promise<void> {
  const script = `
import io, sys, tarfile, zipfile
src, dst = sys.argv[1], sys.argv[2]
evil = b"written outside the release folder\\n"
if src.endswith('.whl'):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr('../evil', evil)
else:
    with tarfile.open(src, 'r:gz') as tin, tarfile.open(dst, 'w:gz') as tout:
        for m in tin.getmembers():
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
        info = tarfile.TarInfo('../evil')
        info.size = len(evil)
        tout.addfile(info, io.BytesIO(evil))
`
  await run('/usr/bin/python3', ['-c', script, src, dst])
}

test('a tampered release (one byte of the wheel changed) does not match its manifest', async () => {
  const dir = join(work, 'tampered', '2.0.0')
  await cp(join(releases, '2.0.0'), dir, { recursive: true })
  const manifest = await readManifest(join(dir, 'manifest.json'))
  const wheel = join(dir, manifest.files.find(f => f.kind === 'wheel')!.name)
  const bytes = await readFile(wheel)
  bytes[Math.floor(bytes.length / 2)] ^= 0x01
  await writeFile(wheel, bytes)
  const msg = await expectRefused([
    'deploy',
    'v1',
    '-c',
    config,
    '--release',
    join(work, 'tampered'),
    '--version',
    '2.0.0'
  ])
  expect(msg).toContain(`release file ${wheel} does not match its manifest`)
  expect(msg).toContain(manifest.files.find(f => f.kind === 'wheel')!.sha256)
})

test.each(['wheel', 'sdist'] as const)(
  'a %s with an entry ../evil escaping its folder, listed with its right sha256, is refused as unsafe',
  async kind => {
    const original = join(releases, '2.0.0')
    const manifest = await readManifest(join(original, 'manifest.json'))
    const name = manifest.files.find(f => f.kind === kind)!.name
    const made = join(work, `evil-${kind}-src`)
    await mkdir(made, { recursive: true })
    const archive = join(made, name)
    await addEscapingEntry(join(original, name), archive)
    const dir = await releaseWithArchive(join(work, `evil-${kind}`), archive, original)
    // The manifest is right about the file: only the archive check can catch it.
    const listed = (await readManifest(join(dir, 'manifest.json'))).files[0]
    expect(listed).toMatchObject({ name, kind, sha256: (await digestFile(join(dir, name))).sha256 })
    const msg = await expectRefused(['deploy', 'v1', '-c', config, '--release', dir])
    expect(msg).toBe(
      `release archive ${join(dir, name)} is unsafe: entry '../evil' has a '..' segment`
    )
  }
)

test('an unknown site is refused, listing the known sites', async () => {
  const msg = await expectRefused([
    'deploy',
    'v9',
    '-c',
    config,
    '--release',
    releases,
    '--version',
    '2.0.0'
  ])
  expect(msg).toBe(`unknown site 'v9' in ${config}; known sites: v1`)
})

test('a malformed config (keep_releases: five) is refused, naming the file, line and key', async () => {
  const text = await readFile(config, 'utf8')
  const lines = text.split('\n')
  const i = lines.findIndex(l => /^\s*keep_releases:/.test(l))
  expect(i).toBeGreaterThan(0)
  lines[i] = lines[i].replace(/keep_releases:.*/, 'keep_releases: five')
  // Beside the good one, so the template path in it resolves the same.
  const bad = join(site.dir, 'bad-keep.yml')
  await writeFile(bad, lines.join('\n'))
  const msg = await expectRefused([
    'deploy',
    'v1',
    '-c',
    bad,
    '--release',
    releases,
    '--version',
    '2.0.0'
  ])
  expect(msg).toMatch(
    new RegExp(
      `^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${i + 1}:\\d+: sites\\.v1\\.keep_releases: .*"five"`
    )
  )
})

test('a malformed version is refused, naming the option and the expected form', async () => {
  const msg = await expectRefused([
    'deploy',
    'v1',
    '-c',
    config,
    '--release',
    releases,
    '--version',
    '1.0.0-beta.x..'
  ])
  expect(msg).toContain('--version 1.0.0-beta.x..: invalid version')
  expect(msg).toMatch(/PEP 440/)
})

test('a missing secret is refused, naming the variable and the template line', async () => {
  const template = join(site.dir, 'deploy', 'app.ini.tmpl')
  const line =
    (await readFile(template, 'utf8'))
      .split('\n')
      .findIndex(l => l.includes('secret.SAMPLE_SECRET_KEY')) + 1
  expect(line).toBeGreaterThan(0)
  const msg = await expectRefused(
    ['deploy', 'v1', '-c', config, '--release', releases, '--version', '2.0.0'],
    {
      SAMPLE_SECRET_KEY: undefined
    }
  )
  expect(msg).toContain(`${template}:${line}: secret SAMPLE_SECRET_KEY is not set`)
})

/** A config whose aliases expand exponentially (9^6 nodes from a few lines). */
async function aliasBombConfig(): Promise<string> {
  const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
  for (let i = 1; i < 7; i++) {
    const [prev, name] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)]
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`)
  }
  const bomb = join(site.dir, 'bomb.yml')
  await writeFile(bomb, `${await readFile(config, 'utf8')}\n${levels.join('\n')}\n`)
  return bomb
}

/** Bad input refused with exit 2 and a message matching `expected`: [case, argv, expected]. */
const REFUSALS: [string, () => Promise<string[]>, RegExp][] = [
  [
    'a YAML alias bomb in the config',
    async () => ['status', 'v1', '-c', await aliasBombConfig()],
    /bomb\.yml:1:1: .*its aliases expand too far .*; expected YAML whose aliases \(\*name\) expand to at most 1000 nodes/
  ],
  [
    'a 300-character version',
    async () => [
      'deploy',
      'v1',
      '-c',
      config,
      '--release',
      releases,
      '--version',
      `1.${'0'.repeat(298)}`
    ],
    /^--version 1\.0{18}\.\.\. \(300 characters\): a version has at most 64 characters$/
  ],
  [
    '--retry-after beyond a day',
    async () => ['maintenance', 'on', 'v1', '-c', config, '--retry-after', '99999999999'],
    /^--retry-after 99999999999: expected a whole number of seconds from 0 to 86400 \(one day\)/
  ],
  [
    'a negative --retry-after',
    async () => ['maintenance', 'on', 'v1', '-c', config, '--retry-after=-5'],
    /^--retry-after -5: expected a number of seconds, e.g. --retry-after 60$/
  ],
  [
    'a control character (ESC) in the maintenance message',
    async () => ['maintenance', 'on', 'v1', '-c', config, '--message', 'back soon\u001b[2J'],
    /^--message: control character U\+001B at position 10; use plain text \(line breaks allowed\)$/
  ]
]

test.each(REFUSALS)('%s is refused', async (_, args, expected) => {
  const msg = await expectRefused(await args())
  expect(msg).toMatch(expected)
  expect(msg).not.toMatch(/\n\s+at /)
})

test('a rollback to a version that is not installed exits 2 and writes no journal line', async () => {
  // Refused under the lock (the releases are read holding it): the journal is the record users
  // read, and it gets nothing for a refusal.
  const before = await readFile(journalPath, 'utf8')
  const r = await runCli(['rollback', 'v1', '-c', config, '--to', '9.9.9'])
  expectExit(r, 2)
  expect(r.stderr).toMatch(/^sitecycle: version 9\.9\.9 is not installed on site v1; installed: /m)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(await readFile(journalPath, 'utf8')).toBe(before)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})

test('after all of that a good deploy still goes through', async () => {
  const r = await runCli(
    ['deploy', 'v1', '-c', config, '--release', releases, '--version', '2.0.0'],
    {
      env: { SAMPLE_SECRET_KEY: SECRET }
    }
  )
  expectExit(r, 0)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  // Only the good deploy wrote to the journal: one start, one end, no failed operation.
  const ops = (await readFile(journalPath, 'utf8'))
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; status?: string })
    .filter(e => e.event === 'end')
  expect(ops.map(e => `${e.op} ${e.status}`)).toEqual(['deploy deployed', 'deploy deployed'])
})
