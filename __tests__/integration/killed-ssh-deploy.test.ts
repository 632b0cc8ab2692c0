/**
 * An SSH deploy from a store whose sitecycle process alone is killed (SIGKILL, no chance to
 * clean up, its children not signalled by anyone) while pip installs on the host: no copy of the
 * private key is left, no ssh (ControlMaster or client) and no pip outlives it, and the next run
 * removes the killed run's temporary folders (its fetched release, its control-socket folder)
 * and deploys. Real CLI, real sshd on loopback, real private Apache.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { createStore } from '../../src/stores/registry.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, startCli } from '../helpers/cli.js'
import { pipInstallingWith, processesWith } from '../helpers/processes.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { startSshd, type Sshd } from '../helpers/sshd.js'

const SECRET = 'killed-ssh-secret-0123456789'

let apache: TestApache
let sshd: Sshd
let site: TestSite
let work: string
/** The CLI's temp dir (TMPDIR and RUNNER_TEMP): only these runs' folders are in it. */
let temp: string
let store: string
let config: string
let key: string

function env(): Record<string, string | undefined> {
  return { SAMPLE_SECRET_KEY: SECRET, SITECYCLE_SSH_KEY: key, TMPDIR: temp, RUNNER_TEMP: temp }
}

/** Poll until `pids()` is empty (true) or `tries` polls of 100 ms have passed (false). */
async function allGone(pids: () => Promise<number[]>, tries = 300): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (!(await pids()).length) return true
    await new Promise(r => setTimeout(r, 100))
  }
  return false
}

/** Every file under `dir`, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    out.push(join(e.parentPath, e.name).slice(dir.length + 1))
  return out.sort()
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-killed-ssh-')
  // Short: the control socket's path must fit in 108 bytes.
  temp = await makeTempDir('sck-')
  store = join(work, 'store')
  const releases = join(work, 'releases')
  const built = await Promise.all(
    ['1.0.0', '2.0.0'].map(version => buildSampleRelease({ version, releasesDir: releases }))
  )
  const local = new LocalExecutor()
  const s = createStore(
    { type: 'directory', path: store, host: { kind: 'local' } },
    { executorFor: () => local, env: process.env }
  )
  for (const b of built)
    await s.publish(
      { dir: b.dir, name: b.manifest.name, version: b.manifest.version },
      new StreamReporter(() => undefined)
    )
  ;[apache, sshd] = await Promise.all([startApache(), startSshd()])
  key = await readFile(sshd.keyFile, 'utf8')
  site = await makeTestSite({
    apache,
    host: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    // The key file of the config is not readable: the key comes from SITECYCLE_SSH_KEY only.
    ssh: { keyFile: join(work, 'no-such-key'), knownHostsFile: sshd.knownHostsFile }
  })
  config = join(site.dir, 'sitecycle.yml')
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--store', store, '--version', '1.0.0']
  ]) {
    const r = await runCli([...args, '-c', config], { env: env(), timeoutMs: 600000 })
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
  expect(await filesUnder(temp)).toEqual([])
}, 900000)

afterAll(async () => {
  await apache?.stop()
  await sshd?.stop()
  await site?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
  if (temp) await rm(temp, { recursive: true, force: true })
})

test('SIGKILL of the CLI alone during pip over SSH: no key copy, no ssh, no pip left; the next run removes its folders', async () => {
  await mkdir(temp, { recursive: true })
  const target = join(site.root, 'releases', '2.0.0')
  const running = startCli(['deploy', 'v1', '--store', store, '--version', '2.0.0', '-c', config], {
    env: env(),
    timeoutMs: 600000
  })
  let ended = false
  void running.result.then(() => (ended = true))
  const pip = () => pipInstallingWith(`${target}/bin/python`)
  const deadline = Date.now() + 300000
  while (!(await pip()).length) {
    if (ended)
      throw new Error(`the deploy ended before pip ran: ${describeRun(await running.result)}`)
    if (Date.now() > deadline) {
      running.killGroup()
      throw new Error('pip never ran into the release directory')
    }
    await new Promise(r => setTimeout(r, 10))
  }
  // While it runs: its fetch folder and its SSH folder, the key not among their files.
  const during = await filesUnder(temp)
  expect(during.some(f => /^sitecycle-fetch-[^/]+\//.test(f))).toBe(true)
  expect(during.some(f => /^sitecycle-ssh-[^/]+\/\.sitecycle-owner$/.test(f))).toBe(true)
  expect(during.filter(f => /^sitecycle-ssh-[^/]+\/id$/.test(f))).toEqual([])
  const sshOfRun = () => processesWith('ssh', temp)
  expect((await sshOfRun()).length).toBeGreaterThan(0)

  // Only the CLI process: whatever it started is left to the kernel and to the design.
  running.child.kill('SIGKILL')
  expect(await running.result).toMatchObject({ signal: 'SIGKILL' })

  // Its ControlMaster and ssh clients end with it, and so does pip on the host.
  expect(await allGone(sshOfRun)).toBe(true)
  expect(await allGone(pip)).toBe(true)
  // No copy of the key anywhere in the temp dir.
  for (const f of await filesUnder(temp)) {
    const p = join(temp, f)
    if ((await stat(p)).isFile()) expect(await readFile(p, 'utf8')).not.toContain(key.trim())
  }
  const left = await filesUnder(temp)
  expect(left.some(f => f.startsWith('sitecycle-fetch-'))).toBe(true)

  // The next run removes the dead run's folders, recovers the site and deploys.
  const next = await runCli(
    ['deploy', 'v1', '--store', store, '--version', '2.0.0', '-c', config],
    {
      env: env(),
      timeoutMs: 600000
    }
  )
  expectExit(next, 0)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  expect(await filesUnder(temp)).toEqual([])
  expect(await processesWith('ssh', temp)).toEqual([])
}, 900000)
