import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import type { Executor } from '../../src/hosts/executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { startSshd } from '../helpers/sshd.js'

let apache: TestApache
let site: TestSite
let sshd: Awaited<ReturnType<typeof startSshd>>
let exec: Executor
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'ssh-secret-value-42'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '3.0.0', releasesDir: releases, broken: 'health' })
  ])
  sshd = await startSshd()
  apache = await startApache()
  site = await makeTestSite({
    apache,
    host: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    ssh: { keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile }
  })
  expect(site.site.host).toMatchObject({ kind: 'ssh', port: sshd.port })
  exec = createExecutor(site.site.host, site.config.ssh)
})

afterAll(async () => {
  await exec?.close()
  await apache?.stop()
  await sshd?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

test('over SSH with a pinned host key: init, deploy v1 then v2, a broken v3 rolls back, rollback', async () => {
  expect(exec.name).toBe(`ssh://root@127.0.0.1:${sshd.port}`)
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  const o1 = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect(o1).toMatchObject({ status: 'deployed', host: exec.name })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')

  const failed = deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '3.0.0'
  })
  await expect(failed).rejects.toBeInstanceOf(OperationFailed)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')

  const r = await rollback({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(r.version).toBe('1.0.0')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  expect(lines.join('\n')).not.toContain('ssh-secret-value-42')
})

test('sitecycle run over SSH: as the Apache user in the live release, output streamed back, exit code kept', async () => {
  const { PassThrough } = await import('node:stream')
  const { runInRelease } = await import('../../src/pipelines/run-command.js')
  const out = new PassThrough()
  const err = new PassThrough()
  const seen: string[] = []
  const errSeen: string[] = []
  out.on('data', (b: Buffer) => seen.push(b.toString()))
  err.on('data', (b: Buffer) => errSeen.push(b.toString()))
  const o = await runInRelease({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    argv: [
      'python',
      '-c',
      "import os, pwd, sys; print(pwd.getpwuid(os.getuid()).pw_name, os.environ['SITECYCLE_VERSION']); print('on stderr', file=sys.stderr); sys.exit(5)"
    ],
    stdout: out,
    stderr: err
  })
  expect(o).toMatchObject({ status: 'ran', release: '1.0.0', code: 5 })
  expect(seen.join('')).toBe('www-data 1.0.0\n')
  expect(errSeen.join('')).toContain('on stderr\n')
})

test('the whole run used one SSH connection', async () => {
  const { readFile } = await import('node:fs/promises')
  const log = await readFile(sshd.logFile, 'utf8')
  expect(log.match(/Accepted publickey/g)?.length).toBe(1)
})

test('a host key that is not the pinned one: the CLI refuses with exit 2, nothing runs on the host', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-host-key-'))
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')])
    const pub = (await readFile(join(dir, 'other.pub'), 'utf8')).trim().split(' ').slice(0, 2)
    const known = join(dir, 'known_hosts')
    await writeFile(known, `[127.0.0.1]:${sshd.port} ${pub.join(' ')}\n`)
    const text = await readFile(join(site.dir, 'sitecycle.yml'), 'utf8')
    expect(text).toContain(`known_hosts: ${sshd.knownHostsFile}`)
    const config = join(dir, 'sitecycle.yml')
    await writeFile(
      config,
      text
        .replace(`known_hosts: ${sshd.knownHostsFile}`, `known_hosts: ${known}`)
        .replace('template: deploy/', `template: ${site.dir}/deploy/`)
    )
    const journal = join(site.root, '.sitecycle', 'journal.jsonl')
    const before = await readFile(journal, 'utf8')
    const out: string[] = []
    const code = await main(
      ['deploy', 'v1', '-c', config, '--release', releases, '--version', '2.0.0', '-q'],
      l => out.push(l)
    )
    expect(code).toBe(2)
    expect(out).toEqual([])
    expect(await readFile(journal, 'utf8')).toBe(before)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
