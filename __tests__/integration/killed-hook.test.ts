/**
 * A sync killed while the preview's hooks run (SQLite, a private Apache, the bundled CLI): the
 * hooks of a sync run in the LIVE release, which is lent to the site's Apache user for them
 * (hooks.ts). After the kill that release is still the user's, so the application could change
 * its own code; the next operation's recovery gives it back to root, and says so.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, startCli } from '../helpers/cli.js'
import { buildSampleRelease } from '../helpers/sample-app.js'

const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)

let apache: TestApache
let dir: string
let releases: string
let configFile: string
/** Where the preview's hook says it started, and the flag that makes it hang. */
let flags: string

const sqlitePath = (site: string) => join(dir, site, 'shared', 'app.sqlite3')
/** What in a tree the site's user owns (empty when it is all root's). */
const ownedByWwwData = (path: string) =>
  execFileSync('find', [path, '-user', 'www-data', '-print'], { encoding: 'utf8' }).trim()

async function siteYaml(name: string, role: string, from?: string): Promise<string> {
  const port = await freePort()
  const preview = role === 'preview'
  // The preview's hook hangs while the flag exists, after saying so: a hook run to kill.
  const hook = `python -c "import pathlib, sys, time; d = pathlib.Path(sys.argv[1]); h = (d / 'hang').exists(); h and (d / 'started').touch(); time.sleep(120 if h else 0)" ${flags}`
  return `
  ${name}:
    role: ${role}
${from ? `    from: ${from}\n` : ''}    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(preview ? [hook] : [])} }
    database: { engine: sqlite, name: ${sqlitePath(name)} }
    preflight: { min_free_mb: 10 }
${preview ? `    anonymize: ${join(dir, 'anonymize.sql')}\n    access: { basic_auth: false }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-killed-hook-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  flags = join(dir, 'flags')
  await mkdir(flags)
  execFileSync('chown', ['www-data:www-data', flags])
  apache = await startApache()
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
  await writeFile(
    join(dir, 'anonymize.sql'),
    "UPDATE users SET email = 'u' || id || '@x.invalid';\n"
  )
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:${await siteYaml('kh1', 'production')}${await siteYaml('kh2', 'preview', 'kh1')}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  const config = parseConfig(yaml, configFile)
  for (const name of ['kh1', 'kh2']) {
    await mkdir(join(dir, name, 'shared'), { recursive: true })
    execFileSync('/usr/bin/sqlite3', [sqlitePath(name)], {
      input:
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users VALUES (1, 'alice@example.org');"
    })
    execFileSync('chown', ['-R', 'www-data:www-data', join(dir, name, 'shared')])
    await initSite({ config, site: config.sites[name], exec, reporter: reporter() })
    const o = await deploy({
      config,
      site: config.sites[name],
      exec,
      reporter: reporter(),
      release: releases,
      version: '1.0.0'
    })
    expect(o.status).toBe('deployed')
  }
})

afterAll(async () => {
  await apache?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test('a sync killed during its hooks: the next operation gives the live release back to root', async () => {
  const live = join(dir, 'kh2', 'releases', '1.0.0')
  expect(ownedByWwwData(live)).toBe('')
  await writeFile(join(flags, 'hang'), '')
  const run = startCli(['sync', 'kh2', '-c', configFile], { timeoutMs: 240_000 })
  const started = join(flags, 'started')
  for (let i = 0; ; i++) {
    if (
      await stat(started).then(
        () => true,
        () => false
      )
    )
      break
    if (i > 1200) throw new Error(`the hook never started: ${run.stderrSoFar()}`)
    await new Promise(r => setTimeout(r, 100))
  }
  // While the hook runs, the release is the site user's (its code included).
  expect(ownedByWwwData(live)).not.toBe('')
  run.killGroup('SIGKILL')
  const killed = await run.result
  expect(killed.signal).toBe('SIGKILL')
  // Nobody gave it back: the application's user still owns its code.
  expect(ownedByWwwData(live)).not.toBe('')

  await rm(join(flags, 'hang'))
  const r = await runCli(['maintenance', 'off', 'kh2', '-c', configFile])
  expectExit(r, 0)
  expect(r.stderr + r.stdout).toMatch(/did not finish: recovering/)
  expect(r.stderr + r.stdout).toMatch(
    /owned by www-data after a hook run was cut short are root's again/
  )
  expect(ownedByWwwData(join(dir, 'kh2', 'releases'))).toBe('')
  // The journal records it with the interrupted sync.
  const journal = execFileSync('cat', [join(dir, 'kh2', '.sitecycle', 'journal.jsonl')], {
    encoding: 'utf8'
  })
  const recovered = journal
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; notes?: string[] })
    .find(e => e.op === 'sync' && e.event === 'recovered')
  expect(describeRun(r) && recovered?.notes?.join(' ')).toMatch(/root's again/)
})
