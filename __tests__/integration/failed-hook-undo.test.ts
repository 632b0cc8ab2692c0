/**
 * A deploy whose hook fails at once, several times in a row on a real site (private Apache,
 * blue/green daemon groups): each is undone cleanly (exit 1, "rolled back", no failed undo),
 * users keep the live release, the release kept warm for a rollback is in the idle slot again
 * and serves there, and the next deploy (the hook passing) succeeds. restart-idle's undo used to
 * look for the idle group's daemons while Apache had not yet respawned the ones restart-idle had
 * just stopped, and failed with "no Apache daemon process" (exit 4).
 */
import { chmod, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'failed-hook-secret-0123456789'
let apache: TestApache
let site: TestSite
let work: string
let releases: string
let config: string
let failMarker: string

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli([...args, '-c', config], { env: { SAMPLE_SECRET_KEY: SECRET, ...env } })
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-failed-hook-')
  releases = join(work, 'releases')
  failMarker = join(work, 'fail-hooks')
  // The hook runs as the site's user: it must see the marker's folder.
  await chmod(work, 0o755)
  ;[apache] = await Promise.all([
    startApache(),
    ...['1.0.0', '2.0.0', '3.0.0'].map(version =>
      buildSampleRelease({ version, releasesDir: releases })
    )
  ])
  // The hook fails at once while the marker exists.
  const hook = `python -c "import os, sys; sys.exit(7 if os.path.exists('${failMarker}') else 0)"`
  site = await makeTestSite({ apache, hooks: [hook] })
  config = join(site.dir, 'sitecycle.yml')
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

const served = (slot?: string) =>
  httpGet(`${site.url}/__version__`, slot ? { 'X-Sitecycle-Slot': slot } : {})

test('a hook that fails at once: every deploy is undone cleanly (exit 1), and the next deploy succeeds', async () => {
  await writeFile(failMarker, '')
  for (let round = 0; round < 6; round++) {
    // Every other round fails right after restart-idle (as a hook failing before pip would):
    // the idle group's daemons are then still being respawned when the undos run.
    const fault: Record<string, string> = round % 2 ? {} : { SITECYCLE_FAULT_FAIL_AT: 'install' }
    const r = await cli(['deploy', 'v1', '--release', releases, '--version', '3.0.0'], fault)
    if (r.code !== 1) throw new Error(`round ${round}: expected exit 1, got ${describeRun(r)}`)
    expect(r.stderr).not.toMatch(/undo of '[^']+' failed/)
    expect(r.stderr).not.toContain('no Apache daemon process')
    expect(r.stderr).toContain('rolled back: 2.0.0 serves again')
    // Users are on the live release; the idle slot serves the release kept for a rollback.
    expect(await served()).toEqual({ status: 200, body: '2.0.0' })
    const st = JSON.parse((await cli(['status', 'v1', '--json'])).stdout) as {
      idle: string
      liveSlot: string
      unfinished: string[]
    }
    expect(st).toMatchObject({ idle: '1.0.0', unfinished: [] })
    expect(await served(st.liveSlot === 'blue' ? 'green' : 'blue')).toEqual({
      status: 200,
      body: '1.0.0'
    })
  }
  await rm(failMarker)
  const next = await cli(['deploy', 'v1', '--release', releases, '--version', '3.0.0'])
  expectExit(next, 0)
  expect(await served()).toEqual({ status: 200, body: '3.0.0' })
}, 600_000)
