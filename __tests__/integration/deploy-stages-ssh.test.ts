/**
 * A deploy in stages on a site over SSH (a real sshd on loopback with a pinned host key, a real
 * private Apache with mod_wsgi): the idle slot answers only from the server's loopback, so
 * `runAgainstIdle` forwards a local port through the shared SSH connection; the smoke test sees
 * the prepared release through it, users do not, and the forward is gone afterwards. Then the
 * starter workflows/deploy-staged.yml through the harness (GitHub's own parser and expression
 * engine) on the same SSH site: the key from the job's secret, the application's smoke test run by
 * `sitecycle idle` through the forwarded port, switch and finish.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { join } from 'node:path'
import { createExecutor } from '../../src/hosts/create-executor.js'
import type { Executor } from '../../src/hosts/executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import {
  prepareStage,
  resumeStage,
  runAgainstIdle,
  type StageRun
} from '../../src/pipelines/deploy-stages.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { allJobs, Harness } from '../../tools/harness/index.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { appHarnessOptions, commitAppRepository, copyStagedStarter } from '../helpers/app-repo.js'
import { buildSampleRelease, makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { startSshd } from '../helpers/sshd.js'

const RUN: StageRun = { run: 'acme/app/actions/runs/333', attempt: '1' }
/** The smoke test: the version the idle slot answers through the address it is given. */
const SMOKE_TEST = `
import os, sys, urllib.request
name, value = os.environ['SITECYCLE_IDLE_HEADER'].split(': ')
req = urllib.request.Request(os.environ['SITECYCLE_IDLE_URL'] + '/__version__',
    headers={name: value, 'Host': os.environ['SITECYCLE_IDLE_HOST']})
open(sys.argv[1], 'w').write(urllib.request.urlopen(req).read().decode().strip())
`

let apache: TestApache
let site: TestSite
let sshd: Awaited<ReturnType<typeof startSshd>>
let exec: Executor
let work: string
const reporter = () => new StreamReporter(() => undefined)

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'ssh-stages-secret-42'
  work = await makeTempDir('sitecycle-stages-ssh-')
  ;[sshd, apache] = await Promise.all([
    startSshd(),
    startApache(),
    buildSampleRelease({ version: '1.0.0', releasesDir: work }),
    buildSampleRelease({ version: '2.0.0', releasesDir: work }),
    buildSampleRelease({ version: '3.0.0', releasesDir: work })
  ])
  site = await makeTestSite({
    apache,
    siteYaml: `releases: ${work}`,
    host: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    ssh: { keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile }
  })
  exec = createExecutor(site.site.host, site.config.ssh)
  const req = { config: site.config, site: site.site, exec, reporter: reporter() }
  await initSite(req)
  await deploy({ ...req, release: work, version: '1.0.0' })
})

const harnesses: Harness[] = []
afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await exec?.close()
  await apache?.stop()
  await sshd?.stop()
  await site?.cleanup()
  await removeTempDir(work)
})

/** GET through a port without keep-alive; rejects when nothing listens. */
function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.get({ host: '127.0.0.1', port, path: '/__version__', agent: false }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    r.on('error', reject)
  })
}

test('over SSH: the smoke test reaches the prepared release through a forwarded port, then the switch', async () => {
  const req = { config: site.config, site: site.site, exec, reporter: reporter() }
  const prepared = await prepareStage({ ...req, release: work, version: '2.0.0', run: RUN })
  expect(prepared).toMatchObject({ status: 'prepared', version: '1.0.0', targetVersion: '2.0.0' })

  const out = join(work, 'smoke.txt')
  const smoke = await runAgainstIdle({
    ...req,
    run: RUN,
    command: ['/usr/bin/python3', '-c', SMOKE_TEST, out]
  })
  expect(smoke.code).toBe(0)
  expect(await readFile(out, 'utf8')).toBe('2.0.0')
  // Through a port of its own on this machine, gone once the command ended.
  const forwarded = Number(new URL(smoke.env.SITECYCLE_IDLE_URL).port)
  expect(forwarded).not.toBe(site.port)
  await expect(get(forwarded)).rejects.toThrow(/ECONNREFUSED/)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')

  await resumeStage({ ...req, run: RUN }, 'switch')
  const done = await resumeStage({ ...req, run: RUN }, 'finish')
  expect(done).toMatchObject({ status: 'deployed', version: '2.0.0', host: exec.name })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
})

test('the starter workflows/deploy-staged.yml over SSH through the harness: the key from the secret, the smoke test through the forwarded port, then the switch', async () => {
  const APP = 'acme/app'
  const secret = process.env.SAMPLE_SECRET_KEY!
  // The application's repository: its config (the SSH key not on the runner: from the secret), the
  // starter as copied (OWNER and the pin replaced, a self-hosted runner), its smoke test.
  const config = await readFile(join(site.dir, 'sitecycle.yml'), 'utf8')
  expect(config).toContain(`key_file: ${sshd.keyFile}`)
  await writeFile(
    join(site.dir, 'sitecycle.yml'),
    config.replace(`key_file: ${sshd.keyFile}`, `key_file: ${join(work, 'not-on-the-runner')}`)
  )
  const workflow = await copyStagedStarter(site.dir)
  const saw = join(work, 'smoke-over-ssh.txt')
  await mkdir(join(site.dir, 'tests'), { recursive: true })
  await writeFile(
    join(site.dir, 'tests', 'smoke.sh'),
    `#!/bin/sh\nexec /usr/bin/python3 -c "$SMOKE" ${saw}\n`,
    { mode: 0o755 }
  )
  await commitAppRepository(site.dir, 'app')
  const before = (await httpGet(`${site.url}/__version__`)).body
  expect(before).toBe('2.0.0')

  const h = new Harness(
    appHarnessOptions(APP, site.dir, {
      secrets: {
        SITECYCLE_SSH_KEY: await readFile(sshd.keyFile, 'utf8'),
        SITECYCLE_SECRETS: JSON.stringify({ SAMPLE_SECRET_KEY: secret })
      },
      env: { SMOKE: SMOKE_TEST }
    })
  )
  harnesses.push(h)
  const run = await h.runWorkflow(workflow, {
    event: 'workflow_dispatch',
    inputs: { version: '3.0.0' }
  })
  expect({ result: run.result, error: run.error }).toEqual({ result: 'success', error: undefined })
  expect(
    allJobs(run)
      .flatMap(j => j.steps)
      .filter(st => !st.post)
      .map(st => [st.name, st.conclusion])
  ).toEqual(
    expect.arrayContaining([
      ['Prepare: install and verify in the idle slot', 'success'],
      ['Smoke test against the idle slot', 'success'],
      ['Switch users to the new release', 'success'],
      ['Finish: prune, release the lock', 'success'],
      ['Undo', 'skipped']
    ])
  )
  // The smoke test saw the new release in the idle slot (over the forward) before users did.
  expect(await readFile(saw, 'utf8')).toBe('3.0.0')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('3.0.0')
  const log = run.log.join('\n')
  expect(log).not.toContain(secret)
  expect(log).not.toContain('PRIVATE KEY')
})
