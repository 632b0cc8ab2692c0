/**
 * The deploy benchmark's real application (`npm run bench:deploy`, after the sample's figures):
 * the Django example (examples/django-project) with its real dependencies (Django,
 * psycopg2-binary, dj-database-url, asgiref, sqlparse: the release's wheelhouse, built offline
 * from SITECYCLE_TEST_WHEELHOUSE), deployed by sitecycle to a blue/green site on PostgreSQL,
 * against a bare `python3 -m venv` + `pip install` of the same wheels.
 *
 * The site has no hooks (migrate and collectstatic are the application's own work, not
 * sitecycle's, as the sample's bench site has none); its health route answers once Django has
 * loaded and PostgreSQL answered `SELECT 1`. Each measured deploy installs a new version
 * (2.0.0, 2.1.0, ...): a fresh virtualenv with every dependency, as the bare install makes.
 *
 * Figures: `deploy_real_run_<n>_s`, `deploy_real_s` (their median), `bare_install_real_s`
 * (median), `deploy_real_ratio` (target ≤ 1.1).
 */
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../src/config/load-config.js'
import { freePort, type PrivateApache } from '../src/demo/private-apache.js'
import type { Executor } from '../src/hosts/executor.js'
import { deploy } from '../src/pipelines/deploy.js'
import { initSite } from '../src/pipelines/init.js'
import { buildRelease } from '../src/releases/build.js'
import type { Reporter } from '../src/util/reporter.js'
import { startPostgres } from '../__tests__/helpers/databases.js'
import { median, timeBareInstall } from './bare-install.js'
import { now } from '../__tests__/helpers/load.js'

/** The repository: this file runs compiled from build/bench/bench/. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const EXAMPLE = join(REPO, 'examples', 'django-project')
const WHEELHOUSE = resolve(
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? join(REPO, '..', 'shared', 'wheelhouse')
)
const DB = 'guestbook_bench'

export interface RealDeployBench {
  /** The benchmark's temp dir (removed by the caller). */
  work: string
  apache: PrivateApache
  exec: Executor
  /** Measured deploys (--real-runs); 0 skips this part. */
  runs: number
  /** Bare installs timed (--bare-runs). */
  bareRuns: number
  reporter(): Reporter
  figure(name: string, value: number, unit: string, digits?: number): void
  progress(message: string): void
}

/** The example's top-level `app:` block, as written. */
function appBlock(yaml: string): string {
  const lines = yaml.split('\n')
  const start = lines.indexOf('app:')
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l))
  if (start < 0 || end < 0) throw new Error(`no app: block in ${EXAMPLE}/sitecycle.yml`)
  return lines.slice(start, end).join('\n')
}

async function buildExample(work: string, releases: string, version: string): Promise<void> {
  const src = join(work, `django-src-${version}`)
  await cp(EXAMPLE, src, { recursive: true, filter: p => !p.includes('__pycache__') })
  const init = join(src, 'mysite', '__init__.py')
  const text = await readFile(init, 'utf8')
  await writeFile(init, text.replace(/^__version__ = .*$/m, `__version__ = "${version}"`))
  await buildRelease({
    sourceDir: src,
    outDir: releases,
    commit: null,
    wheelhouse: { findLinks: [WHEELHOUSE] }
  })
  await rm(src, { recursive: true, force: true })
}

/** Seconds of one bare install: the app's wheel and its dependencies offline from the
 * release's wheelhouse. */
async function bareInstall(work: string, release: string, n: number): Promise<number> {
  const wheel = (await readdir(release)).find(f => f.endsWith('.whl'))
  if (!wheel) throw new Error(`no wheel in ${release}`)
  return timeBareInstall(join(work, `bare-real-${n}`), [
    '--find-links',
    join(release, 'wheelhouse'),
    join(release, wheel)
  ])
}

export async function benchRealDeploy(b: RealDeployBench): Promise<void> {
  if (b.runs < 1) return
  const measured = Array.from({ length: b.runs }, (_, i) => `2.${i}.0`)
  const releases = join(b.work, 'django-releases')
  await mkdir(releases, { recursive: true })
  b.progress(
    `building the Django example at 1.0.0, ${measured.join(', ')} (wheelhouse from ${WHEELHOUSE})`
  )
  for (const v of ['1.0.0', ...measured]) await buildExample(b.work, releases, v)

  b.progress('starting PostgreSQL for the Django example')
  const pg = await startPostgres()
  try {
    pg.sql('postgres', `create database ${DB}`)
    process.env.DJANGO_SECRET_KEY ??= 'bench-django-secret-key-0123456789abcdef'
    const port = await freePort()
    const example = await readFile(join(EXAMPLE, 'sitecycle.yml'), 'utf8')
    const yaml = `${appBlock(example)}
sites:
  real:
    host: local
    root: ${join(b.work, 'django-site')}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    env:
      DJANGO_ALLOWED_HOSTS: "127.0.0.1"
    database: { engine: postgres, name: ${DB}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
    keep_releases: ${b.runs + 2}
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${b.apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(b.apache.ctl)}
      shutdown_timeout: 5
      mode: blue-green
`
    const file = join(b.work, 'django-sitecycle.yml')
    await writeFile(file, yaml)
    const config = parseConfig(yaml, file)
    const site = config.sites.real
    const exec = b.exec

    b.progress('init and first deploy of the Django example (1.0.0, not measured)')
    await initSite({ config, site, exec, reporter: b.reporter() })
    const first = await deploy({
      config,
      site,
      exec,
      reporter: b.reporter(),
      release: releases,
      version: '1.0.0'
    })
    if (first.status !== 'deployed') throw new Error(`deploy 1.0.0: ${JSON.stringify(first)}`)

    b.progress(
      `bare install of the Django example ${measured[0]} with its wheelhouse, ${b.bareRuns} times`
    )
    const bare: number[] = []
    for (let i = 0; i < Math.max(1, b.bareRuns); i++)
      bare.push(await bareInstall(b.work, join(releases, measured[0]), i))

    const runs: number[] = []
    for (const version of measured) {
      b.progress(`deploy of the Django example ${version}`)
      const t0 = now()
      const o = await deploy({
        config,
        site,
        exec,
        reporter: b.reporter(),
        release: releases,
        version
      })
      runs.push((now() - t0) / 1000)
      if (o.status !== 'deployed') throw new Error(`deploy ${version}: ${JSON.stringify(o)}`)
    }
    for (const [i, s] of runs.entries()) b.figure(`deploy_real_run_${i + 1}_s`, s, 's')
    const deployS = median(runs)
    const bareS = median(bare)
    b.figure('deploy_real_s', deployS, 's')
    b.figure('bare_install_real_s', bareS, 's')
    b.figure('deploy_real_ratio', deployS / bareS, 'x', 2)
  } finally {
    await pg.stop()
  }
}
