/**
 * The Django example (examples/django-project) on a real Apache and PostgreSQL, through the
 * bundled CLI: its release (built with its wheelhouse: Django, psycopg2-binary, dj-database-url
 * from the shared wheelhouse, offline) deployed with the example's own `app:` block (settings and
 * secret key through env:, DATABASE_URL from the site's database) and hooks (migrate with
 * hooks.freeze, collectstatic into the release); both migrations applied, the admin's login page
 * served, a superuser made by `sitecycle run` as www-data.
 *
 * Needs the wheelhouse (SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse): CI has it, so
 * a missing one fails here rather than skipping. Rebuild dist/cli.js after a src change.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { chmod, cp, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { REPO } from '../helpers/harness-repo.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'
import { buildRelease } from '../../src/releases/build.js'

const WHEELHOUSE = resolve(
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? join(REPO, '..', 'shared', 'wheelhouse')
)
const EXAMPLE = join(REPO, 'examples', 'django-project')
const SECRET = 'django-example-secret-key-5c1e0a9d7b'
const DB = 'guestbook_example'

let apache: TestApache
let pg: PostgresServer
let tmp: string
let root: string
let url: string
let releases: string
let configFile: string

const cli = (args: string[]): Promise<CliResult> =>
  runCli(['-c', configFile, ...args], {
    env: { DJANGO_SECRET_KEY: SECRET },
    timeoutMs: 300_000
  })

async function ok(args: string[]): Promise<CliResult> {
  const r = await cli(args)
  if (r.code !== 0) throw new Error(`sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  return r
}

/** The example's top-level `app:` block, as written. */
function block(yaml: string, key: string, indent = ''): string {
  const lines = yaml.split('\n')
  const start = lines.indexOf(`${indent}${key}:`)
  const end = lines.findIndex(
    (l, i) => i > start && l.trim() !== '' && !l.startsWith(`${indent} `) && !l.startsWith('#')
  )
  if (start < 0 || end < 0) throw new Error(`no ${key}: block in ${EXAMPLE}/sitecycle.yml`)
  return lines.slice(start, end).join('\n')
}

beforeAll(async () => {
  if (!existsSync(WHEELHOUSE))
    throw new Error(
      `the wheelhouse ${WHEELHOUSE} is missing: set SITECYCLE_TEST_WHEELHOUSE to a folder with Django, psycopg2-binary and dj-database-url wheels`
    )
  tmp = await makeTempDir('sitecycle-example-django-')
  // Apache's daemons (www-data) work in the site below it.
  await chmod(tmp, 0o755)
  root = join(tmp, 'site')
  releases = join(tmp, 'releases')
  const src = join(tmp, 'src')
  await cp(EXAMPLE, src, { recursive: true, filter: p => !p.includes('__pycache__') })
  const version = (await readFile(join(src, 'mysite', '__init__.py'), 'utf8')).match(
    /^__version__ = "([^"]+)"$/m
  )![1]
  ;[apache, pg] = await Promise.all([
    startApache(),
    startPostgres(),
    buildRelease({
      sourceDir: src,
      outDir: releases,
      commit: null,
      wheelhouse: { findLinks: [WHEELHOUSE] }
    })
  ])
  expect(version).toBe('2.0.0')
  pg.sql('postgres', `create database ${DB}`)
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  const example = await readFile(join(EXAMPLE, 'sitecycle.yml'), 'utf8')
  configFile = join(tmp, 'sitecycle.yml')
  await writeFile(
    configFile,
    `${block(example, 'app')}
sites:
  v1:
    host: local
    root: ${root}
    url: ${url}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    env:
      DJANGO_ALLOWED_HOSTS: "127.0.0.1"
    database: { engine: postgres, name: ${DB}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
${block(example, 'hooks', '    ')}
    keep_releases: 3
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
  )
  await ok(['init', 'v1'])
}, 600_000)

afterAll(async () => {
  await apache?.stop()
  await pg?.stop()
  await removeTempDir(tmp)
})

test('deployed with its hooks: both migrations applied while frozen, static files collected into the release, the admin served', async () => {
  const r = await ok(['deploy', 'v1', '--release', releases, '--version', '2.0.0'])
  expect(r.stderr).toMatch(/freeze/)
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '2.0.0' })
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial\n0002_entry_author')
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'admin', 'css', 'base.css'))).toBe(
    true
  )
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'))).toBe(true)
  // static: the collected files are Apache's to serve, from the live slot's release (DEBUG off:
  // Django would not serve them); a missing one is Apache's 404.
  const css = await httpGet(`${url}/static/guestbook/style.css`)
  expect(css.status).toBe(200)
  expect(css.body).toBe(
    await readFile(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'), 'utf8')
  )
  expect((await httpGet(`${url}/static/guestbook/none.css`)).status).toBe(404)
  // shared: the media folder made by init for www-data, served at /media/, named to the app.
  expect(statSync(join(root, 'shared', 'media')).uid).toBe(
    Number(execFileSync('id', ['-u', 'www-data']).toString())
  )
  await writeFile(join(root, 'shared', 'media', 'upload.txt'), 'uploaded\n')
  expect(await httpGet(`${url}/media/upload.txt`)).toEqual({ status: 200, body: 'uploaded\n' })
  const login = await httpGet(`${url}/admin/login/`)
  expect(login.status).toBe(200)
  expect(login.body).toContain('Django administration')
  // DEBUG off: an unknown page is a plain 404, no traceback.
  const missing = await httpGet(`${url}/no-such-page/`)
  expect(missing.status).toBe(404)
  expect(missing.body).not.toContain('Traceback')
})

test('a superuser made by sitecycle run, as www-data, in the live release', async () => {
  const r = await cli([
    'run',
    'v1',
    '--',
    'python',
    '-m',
    'django',
    'createsuperuser',
    '--noinput',
    '--username',
    'admin',
    '--email',
    'admin@example.org'
  ])
  expectExit(r, 0)
  expect(r.stderr).toMatch(/running in v1 2\.0\.0 as www-data/)
  expect(pg.sql(DB, 'select username, is_superuser from auth_user').trim()).toBe('admin|t')
  expect(r.stderr + r.stdout).not.toContain(SECRET)
})
