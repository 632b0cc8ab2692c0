/**
 * The site lock through the real CLI on a live site: a site root on a read-only mount, a full
 * file system, or one the user cannot write ends deploy, rollback and `maintenance on` at once
 * (a long --lock-wait is not waited for: nothing would change) with exit 1 and one line naming
 * the path, no stack trace; a lock whose recorded PID now belongs to an unrelated live process
 * is recognised as dead (start time), so deploy takes it over and unlock clears it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bootId, processStartTime } from '../../src/util/process-identity.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import {
  CLI_PATH,
  cliEnv,
  describeRun,
  expectExit,
  runCli,
  type CliResult
} from '../helpers/cli.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { diffTrees, snapshotTree } from '../helpers/tree.js'

const SECRET = 'site-lock-secret-0123456789'
const run = promisify(execFile)

let apache: TestApache
let site: TestSite
let work: string
let releases: string
let config: string
let state: string

function cli(args: string[]): Promise<CliResult> {
  return runCli([...args, '-c', config], {
    env: { SAMPLE_SECRET_KEY: SECRET },
    // A hang (the old endless mkdir loop) ends the run here and fails the test.
    timeoutMs: 60000
  })
}

/** The same CLI run as the user nobody (uid 65534), who cannot write the site. */
async function cliAsNobody(args: string[]): Promise<CliResult> {
  const r = await run(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      CLI_PATH,
      ...args,
      '-c',
      config
    ],
    { env: cliEnv({ SAMPLE_SECRET_KEY: SECRET, HOME: '/tmp' }), timeout: 60000 }
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string; killed?: boolean }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
      killed: e.killed
    })
  )
  return { code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, timedOut: false }
}

/** The commands that take the lock, each with a wait far longer than the test may take. */
function lockingCommands(): string[][] {
  return [
    ['deploy', 'v1', '--release', releases, '--version', '1.0.0', '--lock-wait', '3600'],
    ['rollback', 'v1', '--lock-wait', '3600'],
    ['maintenance', 'on', 'v1', '--lock-wait', '3600']
  ]
}

/** Exit 1, and the run's last stderr line is `sitecycle: <message>`; no stack trace. */
function expectOneLineFailure(r: CliResult, message: RegExp): void {
  expectExit(r, 1)
  expect(r.stderr).not.toMatch(/^\s+at /m)
  expect(r.stderr).not.toMatch(/unexpected error/)
  const lines = r.stderr.trim().split('\n')
  expect(lines[lines.length - 1]).toMatch(message)
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-site-lock-')
  await chmod(work, 0o755)
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  site = await makeTestSite({ apache })
  config = join(site.dir, 'sitecycle.yml')
  state = join(site.root, '.sitecycle')
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--release', releases, '--version', '1.0.0'],
    ['deploy', 'v1', '--release', releases, '--version', '2.0.0']
  ]) {
    const r = await cli(args)
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

test('a read-only site root: deploy, rollback and maintenance on end at once, naming the path', async () => {
  await run('mount', ['--bind', site.root, site.root])
  try {
    await run('mount', ['-o', 'remount,bind,ro', site.root])
    for (const args of lockingCommands()) {
      const r = await cli(args)
      expectOneLineFailure(
        r,
        new RegExp(
          `^sitecycle: cannot take the lock of site v1 on local: ${escape(state)} is on a read-only file system ` +
            `\\(mkdir: cannot create directory .${escape(state)}/lock\\.[^/]+: Read-only file system\\); nothing was changed$`
        )
      )
    }
  } finally {
    await run('umount', [site.root])
  }
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
})

test('a full file system under .sitecycle: each ends at once saying no space is left, and leaves nothing', async () => {
  const saved = join(work, 'state-copy')
  await run('cp', ['-a', state, saved])
  await run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', state])
  try {
    await run('cp', ['-a', `${saved}/.`, state])
    // Fill it: dd ends with "No space left on device".
    await run('dd', ['if=/dev/zero', `of=${join(state, 'fill')}`, 'bs=4k']).catch(() => undefined)
    const before = await readdir(state)
    for (const args of lockingCommands()) {
      const r = await cli(args)
      expectOneLineFailure(
        r,
        new RegExp(
          `^sitecycle: cannot take the lock of site v1 on local: ${escape(state)} is on a file system with no space left \\(.*\\); nothing was changed$`
        )
      )
    }
    // No attempt folder or holder left behind in the full .sitecycle.
    expect(await readdir(state)).toEqual(before)
  } finally {
    await run('umount', [state])
  }
  expect(await readdir(state)).not.toContain('fill')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
})

test('a user who cannot write the site (nobody): a one-line permission error, not "not initialized"', async () => {
  const before = await snapshotTree(site.root, {
    ignore: rel => /^shared\/logs\/(access|error)\.log$/.test(rel)
  })
  // Readable but not writable for nobody; then not even searchable.
  for (const mode of [0o755, 0o700]) {
    await chmod(site.root, mode)
    try {
      for (const args of lockingCommands()) {
        const r = await cliAsNobody(args)
        expect(r.stderr).not.toMatch(/not initialized/)
        // deploy reads the site's state first; the others go straight for the lock.
        expectOneLineFailure(
          r,
          args[0] === 'deploy'
            ? new RegExp(
                `^sitecycle: site v1 at ${escape(site.root)} on local cannot be read by this user ` +
                  '\\(.*[Pp]ermission denied.*\\): ' +
                  'run sitecycle as the user that owns the site, or as root$'
              )
            : new RegExp(
                `^sitecycle: cannot take the lock of site v1 on local: ${escape(state)} cannot be written by this user ` +
                  `\\(mkdir: cannot create directory .${escape(state)}/lock\\.[^/]+: Permission denied\\); nothing was changed$`
              )
        )
      }
    } finally {
      await chmod(site.root, 0o755)
    }
  }
  const after = await snapshotTree(site.root, {
    ignore: rel => /^shared\/logs\/(access|error)\.log$/.test(rel)
  })
  expect(diffTrees(before, after)).toEqual([])
})

describe('a lock left by a killed run whose PID now belongs to another process', () => {
  let sleeper: ChildProcess

  beforeAll(() => {
    sleeper = spawn('sleep', ['600'], { stdio: 'ignore' })
  })
  afterAll(() => {
    sleeper.kill('SIGKILL')
  })

  /** Write `.sitecycle/lock/holder.json` as a killed deploy would have, with the sleeper's PID. */
  async function plantLock(fields: Record<string, unknown>): Promise<void> {
    await mkdir(join(state, 'lock'), { recursive: true })
    await writeFile(
      join(state, 'lock', 'holder.json'),
      JSON.stringify({
        op: 'deploy',
        id: 'killed-run',
        pid: sleeper.pid,
        machine: hostname(),
        actor: 'ci',
        since: '2026-01-01T00:00:00.000Z',
        ...fields
      })
    )
  }

  const liveStart = () => processStartTime(sleeper.pid!)!
  /** A start time other than the live process's: the recorded process started at another time. */
  const otherStart = () => String(Number(liveStart()) - 1)

  test('status calls it dead; unlock and unlock --force clear it', async () => {
    await plantLock({ start: otherStart(), boot: bootId() })
    const st = await cli(['status', 'v1', '--json'])
    expectExit(st, 0)
    expect(JSON.parse(st.stdout).lock).toMatchObject({ id: 'killed-run', state: 'dead' })
    const un = await cli(['unlock', 'v1'])
    expectExit(un, 0)
    expect(un.stdout).toBe('lock of deploy killed-run (ci) on site v1 cleared\n')

    await plantLock({ start: otherStart(), boot: bootId() })
    const forced = await cli(['unlock', 'v1', '--force'])
    expectExit(forced, 0)
    expect(forced.stdout).toBe('lock of deploy killed-run (ci) on site v1 cleared\n')
    expect(await readdir(state)).not.toContain('lock')
  })

  test('a holder from an earlier boot is dead too', async () => {
    await plantLock({ start: liveStart(), boot: '00000000-0000-0000-0000-000000000000' })
    expectExit(await cli(['unlock', 'v1']), 0)
  })

  test('deploy takes the lock over and deploys', async () => {
    await plantLock({ start: otherStart(), boot: bootId() })
    const r = await cli(['deploy', 'v1', '--release', releases, '--version', '1.0.0'])
    expectExit(r, 0)
    expect(r.stderr).toContain(
      'taking over the lock of a run that is gone: deploy killed-run by ci'
    )
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
    expect(await readdir(state)).not.toContain('lock')
  })

  test('the same PID with its own start time is alive: unlock refuses', async () => {
    await plantLock({ start: liveStart(), boot: bootId() })
    const r = await cli(['unlock', 'v1'])
    expectExit(r, 3)
    expect(r.stderr).toMatch(/is locked by deploy killed-run by ci .* which is still running/)
    await rm(join(state, 'lock'), { recursive: true })
  })

  test('an old holder file (no start time, no boot id) is still read: by its PID alone', async () => {
    await plantLock({})
    expectExit(await cli(['unlock', 'v1']), 3)
    await plantLock({ pid: 2 ** 22 + 4321 })
    const r = await cli(['unlock', 'v1'])
    expectExit(r, 0)
    expect(r.stdout).toBe('lock of deploy killed-run (ci) on site v1 cleared\n')
  })
})
