/**
 * `sitecycle demo`: the main job on embedded defaults. Builds the sample application at 1.0.0,
 * 2.0.0 and a broken 3.0.0, starts a private Apache on 127.0.0.1, initializes a site, deploys
 * 1.0.0 and 2.0.0 (each answering over HTTP), then 3.0.0, whose health check fails: the deploy
 * rolls back on its own and 2.0.0 serves on. Nothing outside the demo folder is changed.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseConfig } from '../config/load-config.js'
import { LocalExecutor } from '../hosts/local-executor.js'
import { deploy } from '../pipelines/deploy.js'
import { initSite } from '../pipelines/init.js'
import { OperationFailed } from '../pipelines/operation.js'
import { siteStatus } from '../pipelines/status.js'
import { buildRelease } from '../releases/build.js'
import { prepareSampleSource, type SampleBreakage } from '../releases/sample-source.js'
import type { Reporter } from '../util/reporter.js'
import { startApache } from './private-apache.js'

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

export async function runDemo(opts: DemoOptions): Promise<number> {
  const dir = resolve(opts.dir ?? '/tmp/sitecycle-demo')
  const port = opts.port ?? 8080
  const { reporter, out } = opts
  await stopPrevious(dir)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await chmod(dir, 0o755)
  out(`sitecycle demo in ${dir}, site on http://127.0.0.1:${port}`)

  const releases = join(dir, 'releases')
  const builds: [string, SampleBreakage | undefined][] = [
    ['1.0.0', undefined],
    ['2.0.0', undefined],
    ['3.0.0', 'health']
  ]
  for (const [version, broken] of builds) {
    reporter.info(
      `building the sample app ${version}${broken ? ` (broken: ${broken} check fails)` : ''}`
    )
    const src = await prepareSampleSource({ version, broken, into: join(dir, 'src', version) })
    await buildRelease({ sourceDir: src, outDir: releases, commit: null })
  }

  reporter.info('starting a private Apache (mod_wsgi, mod_rewrite) on 127.0.0.1')
  const apache = await startApache(join(dir, 'apache'))
  await mkdir(join(dir, 'deploy'))
  await writeFile(join(dir, 'deploy', 'app.ini.tmpl'), TEMPLATE)
  const yaml = `# Embedded defaults of \`sitecycle demo\`
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
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
    releases: releases
    preflight: { min_free_mb: 50 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
  const configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  const config = parseConfig(yaml, configFile)
  const site = config.sites.demo
  const exec = new LocalExecutor()
  if (!process.env.SAMPLE_SECRET_KEY)
    process.env.SAMPLE_SECRET_KEY = randomBytes(18).toString('base64url')
  reporter.addSecret(process.env.SAMPLE_SECRET_KEY)

  let code = 0
  try {
    reporter.info(`\n== init site demo`)
    await initSite({ config, site, exec, reporter })
    out(`init: ${await answer(`${site.url}/__version__`)}`)
    for (const version of ['1.0.0', '2.0.0']) {
      reporter.info(`\n== deploy ${version}`)
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
    out(
      opts.keep === false
        ? 'demo done; Apache stopped'
        : `demo done; the site stays up at ${site.url}/ — try: curl ${site.url}/__version__\n` +
            `  status:   node dist/cli.js status demo -c ${configFile}\n` +
            `  rollback: node dist/cli.js rollback demo -c ${configFile}\n` +
            `  stop:     ${apache.ctl.join(' ')} stop`
    )
  } finally {
    if (opts.keep === false) await apache.stop()
  }
  return code
}
