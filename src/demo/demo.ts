/**
 * `sitecycle demo`: the main job on embedded defaults, on this machine only.
 *
 * 1. The sample application (examples/sample-app) is copied into a fresh git repository with a
 *    sitecycle.yml, and released three times with the release pipeline: tests, version from
 *    the package metadata, sdist + wheel, manifest, git tag, published to a directory store
 *    (a PEP 503 index): 1.0.0, 2.0.0, and 3.0.0 whose health check is broken on purpose.
 * 2. A private Apache (mod_wsgi, mod_rewrite) starts on 127.0.0.1, a site is initialized, and
 *    1.0.0 then 2.0.0 are deployed by version from the store, each answering over HTTP.
 * 3. 3.0.0 is deployed: it fails its health check in the idle slot, the deploy undoes itself,
 *    and 2.0.0 serves on; users never saw 3.0.0.
 * Nothing outside the demo folder changes (the system's Apache is left alone).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { loadConfig } from '../config/load-config.js'
import { LocalExecutor } from '../hosts/local-executor.js'
import { deploy } from '../pipelines/deploy.js'
import { initSite } from '../pipelines/init.js'
import { OperationFailed } from '../pipelines/operation.js'
import { runRelease } from '../pipelines/release.js'
import { siteStatus } from '../pipelines/status.js'
import { prepareSampleSource } from '../releases/sample-source.js'
import { createStore } from '../stores/registry.js'
import type { Reporter } from '../util/reporter.js'
import { startApache } from './private-apache.js'

const run = promisify(execFile)

export interface DemoOptions {
  port?: number
  dir?: string
  /** Leave Apache running at the end (default true) so the site can be visited. */
  keep?: boolean
  reporter: Reporter
  out: (line: string) => void
}

const TEMPLATE = `[app]
greeting = Hello from the sitecycle demo ({{ site.name }})
secret_key = {{ secret.SAMPLE_SECRET_KEY }}
root = {{ site.root }}
version = {{ release.version }}
`

function configYaml(dir: string, port: number, apache: { confDir: string; ctl: string[] }): string {
  return `# Embedded defaults of \`sitecycle demo\`
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
  tests: /usr/bin/python3 -m compileall -q sitecycle_sample
release:
  tag_prefix: v
  stores:
    - { type: directory, path: ${dir}/store }
sites:
  demo:
    host: local
    root: ${dir}/site
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage check"]
    keep_releases: 3
    store: { type: directory, path: ${dir}/store }
    preflight: { min_free_mb: 50 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

async function stopPrevious(dir: string): Promise<void> {
  const pidFile = join(dir, 'apache', 'run', 'apache2.pid')
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim())
  if (!pid) return
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
    await new Promise(r => setTimeout(r, 100))
  }
}

async function answer(url: string): Promise<string> {
  try {
    const r = await fetch(url)
    return `HTTP ${r.status} ${(await r.text()).trim()}`
  } catch (e) {
    return `no answer (${(e as Error).message})`
  }
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  await run(
    'git',
    ['-c', 'user.name=sitecycle demo', '-c', 'user.email=demo@sitecycle.invalid', ...args],
    { cwd }
  )
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const dir = resolve(opts.dir ?? '/tmp/sitecycle-demo')
  const port = opts.port ?? 8080
  const { reporter, out } = opts
  await stopPrevious(dir)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await chmod(dir, 0o755)
  out(`sitecycle demo in ${dir}, site on http://127.0.0.1:${port}`)

  reporter.info(`a private Apache (mod_wsgi, mod_rewrite) listening only on 127.0.0.1:${port}`)
  const apache = await startApache(join(dir, 'apache'), { ports: [port] })

  // The application's repository: the sample app, its sitecycle.yml and config template.
  const app = join(dir, 'app')
  await rename(await prepareSampleSource({ version: '1.0.0', into: join(dir, 'src') }), app)
  await rm(join(dir, 'src'), { recursive: true, force: true })
  await mkdir(join(app, 'deploy'), { recursive: true })
  await writeFile(join(app, 'deploy', 'app.ini.tmpl'), TEMPLATE)
  await writeFile(join(app, 'sitecycle.yml'), configYaml(dir, port, apache))
  await writeFile(join(app, '.gitignore'), 'dist-releases/\nbuild/\n*.egg-info/\n__pycache__/\n')
  await git(app, 'init', '-q', '-b', 'main')
  await git(app, 'add', '-A')
  await git(app, 'commit', '-q', '-m', 'sample app 1.0.0')
  const config = await loadConfig(join(app, 'sitecycle.yml'))
  const site = config.sites.demo
  const exec = new LocalExecutor()
  const storeDeps = { executorFor: () => exec, env: process.env }
  if (!process.env.SAMPLE_SECRET_KEY)
    process.env.SAMPLE_SECRET_KEY = randomBytes(18).toString('base64url')
  reporter.addSecret(process.env.SAMPLE_SECRET_KEY)

  let code = 0
  try {
    for (const [version, broken] of [
      ['1.0.0', null],
      ['2.0.0', null],
      ['3.0.0', 'health']
    ] as const) {
      reporter.info(
        `\n== release ${version}${broken ? ' (its health check is broken on purpose)' : ''}`
      )
      if (version !== '1.0.0') {
        await writeFile(
          join(app, 'sitecycle_sample', '_version.py'),
          `__version__ = "${version}"\n`
        )
        await writeFile(
          join(app, 'sitecycle_sample', '_broken.py'),
          `BROKEN = ${broken ? `"${broken}"` : 'None'}\n`
        )
        await git(app, 'commit', '-q', '-am', `sample app ${version}`)
      }
      const r = await runRelease({
        app: config.app,
        release: config.release!,
        stores: config.release!.stores.map(s => createStore(s, storeDeps)),
        reporter
      })
      out(
        `release ${r.version}: tag ${r.tag}, published to ${r.published.map(p => p.location).join(', ')}`
      )
    }

    reporter.info(`\n== init site demo`)
    await initSite({ config, site, exec, reporter })
    out(`init: ${site.url}/__version__ answers ${await answer(`${site.url}/__version__`)}`)
    for (const version of ['1.0.0', '2.0.0']) {
      reporter.info(`\n== deploy ${version} from the store`)
      const o = await deploy({ config, site, exec, reporter, version })
      out(
        `deploy ${version}: ${o.status}; ${site.url}/__version__ answers ${await answer(`${site.url}/__version__`)}`
      )
    }
    reporter.info(`\n== deploy 3.0.0 (broken: its health check answers 500)`)
    try {
      await deploy({ config, site, exec, reporter, version: '3.0.0' })
      out('deploy 3.0.0: unexpectedly succeeded')
      code = 1
    } catch (e) {
      if (!(e instanceof OperationFailed)) throw e
      out(`deploy 3.0.0: ${e.outcome.status} at step ${e.outcome.failedStep}: ${e.outcome.error}`)
      out(
        `after the automatic rollback ${site.url}/__version__ answers ${await answer(`${site.url}/__version__`)}`
      )
      if (e.outcome.version !== '2.0.0') code = 1
    }
    const st = await siteStatus(config, site, exec)
    out(
      `status: live ${st.live}, previous ${st.idle}, releases ${st.releases.map(r => r.dir).join(', ')}`
    )
    const cfg = join(app, 'sitecycle.yml')
    out(
      opts.keep === false
        ? 'demo done; Apache stopped'
        : `demo done; the site stays up at ${site.url}/ (try: curl ${site.url}/__version__)\n` +
            `  status:   node dist/cli.js status demo -c ${cfg}\n` +
            `  rollback: node dist/cli.js rollback demo -c ${cfg}\n` +
            `  releases: ${dir}/store/notes.html and pip install --index-url file://${dir}/store/simple sitecycle-sample==2.0.0\n` +
            `  stop:     ${apache.ctl.join(' ')} stop`
    )
  } finally {
    if (opts.keep === false) await apache.stop()
  }
  return code
}
