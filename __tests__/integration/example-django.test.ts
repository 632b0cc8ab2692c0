/**
 * The Django example (examples/django-project) on a real Apache and PostgreSQL, through the
 * bundled CLI: its releases (built with their wheelhouse: Django, psycopg2-binary, dj-database-url
 * from the shared wheelhouse, offline) deployed with the example's own `app:` block (settings and
 * secret key through env:, DATABASE_URL from the site's database) and hooks (migrate with
 * hooks.freeze, collectstatic into the release). A 1.0.0 (the example without its second
 * migration and the field it adds) goes live first, then the example's 2.0.0, whose hook applies
 * 0002; a superuser made by `sitecycle run` as www-data logs in to the admin over HTTP, the
 * guestbook is signed through its form (CSRF as a browser does it), `sitecycle rollback` puts
 * 1.0.0 back (code only: the entry and 0002's column stay; 1.0.0 reads, its writes break on
 * that column) and a preview site synced from production shows the entry (anonymised users).
 *
 * Needs the wheelhouse (SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse): CI has it, so
 * a missing one fails here rather than skipping. Rebuild dist/cli.js after a src change.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { chmod, cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { REPO } from '../helpers/harness-repo.js'
import { exampleBlock, mustPass, testWheelhouse } from '../helpers/examples.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'
import { buildRelease } from '../../src/releases/build.js'

const EXAMPLE = join(REPO, 'examples', 'django-project')
const SECRET = 'django-example-secret-key-5c1e0a9d7b'
const DB = 'guestbook_example'
const PREVIEW_DB = 'guestbook_preview'
const PASSWORD = 'guestbook-admin-Pa55-41d7'
const AUTHOR = 'ann'
const MESSAGE = 'signed over HTTP <2.0.0>'
/** The preview's basic auth (a preview is closed by default). */
const ACCESS = 'preview-access-Pa55-93b2'
const previewAuth = {
  Authorization: `Basic ${Buffer.from(`sitecycle:${ACCESS}`).toString('base64')}`
}

let WHEELHOUSE: string
let apache: TestApache
let pg: PostgresServer
let tmp: string
let root: string
let url: string
let previewUrl: string
let releases: string
let configFile: string

const cli = (args: string[]): Promise<CliResult> =>
  runCli(['-c', configFile, ...args], {
    // Locally, the caller's environment reaches `sitecycle run`'s command: createsuperuser
    // --noinput takes the password from DJANGO_SUPERUSER_PASSWORD.
    env: {
      DJANGO_SECRET_KEY: SECRET,
      DJANGO_SUPERUSER_PASSWORD: PASSWORD,
      SITECYCLE_ACCESS_PASSWORD: ACCESS
    },
    timeoutMs: 300_000
  })

const ok = (args: string[]): Promise<CliResult> => mustPass(args, cli(args))

/** Replace `from` by `to` in a file of the copy; the example no longer as written fails here. */
async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  if (!text.includes(from)) throw new Error(`${file} no longer has ${JSON.stringify(from)}`)
  await writeFile(file, text.replace(from, to))
}

/**
 * The example as its 1.0.0 was: no migration 0002 and no `author` field (model, view, page,
 * admin), `__version__` 1.0.0 (pyproject.toml takes its version from it).
 */
async function version1(src: string): Promise<void> {
  const app = join(src, 'guestbook')
  await rm(join(app, 'migrations', '0002_entry_author.py'))
  await edit(join(src, 'mysite', '__init__.py'), '__version__ = "2.0.0"', '__version__ = "1.0.0"')
  await edit(
    join(app, 'models.py'),
    `    # Added in version 2 (migration 0002).
    author = models.CharField(max_length=100, default="anonymous")
`,
    ''
  )
  await edit(join(app, 'admin.py'), '"id", "author", "text"', '"id", "text"')
  await edit(join(app, 'models.py'), 'f"{self.author}: {self.text[:40]}"', 'self.text[:40]')
  await edit(
    join(app, 'views.py'),
    ', author=request.POST.get("author", "").strip()[:100] or "anonymous")',
    ')'
  )
  await edit(
    join(app, 'templates', 'guestbook', 'index.html'),
    '  <label>Name <input name="author" maxlength="100"></label>\n',
    ''
  )
  await edit(
    join(app, 'templates', 'guestbook', 'index.html'),
    '{{ entry.author }}: {{ entry.text }}',
    '{{ entry.text }}'
  )
}

/** A browser's cookies for one site (name → value), enough for Django's CSRF and session. */
class Browser {
  private cookies = new Map<string, string>()
  constructor(private readonly base: string) {}

  cookie(name: string): string | undefined {
    return this.cookies.get(name)
  }

  async request(
    path: string,
    form?: Record<string, string>
  ): Promise<{ status: number; body: string; location: string | null }> {
    const headers: Record<string, string> = {
      Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    }
    if (form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded'
      // Django's CSRF check wants the origin (and, over HTTPS, the referer) to be the site's.
      headers.Origin = this.base
      headers.Referer = `${this.base}${path}`
    }
    const r = await fetch(`${this.base}${path}`, {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form && { body: new URLSearchParams(form).toString() })
    })
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const i = pair!.indexOf('=')
      this.cookies.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim())
    }
    return { status: r.status, body: await r.text(), location: r.headers.get('location') }
  }

  /** GET a page with a form and POST `fields` to it with the page's CSRF token. */
  async submit(
    path: string,
    fields: Record<string, string>
  ): Promise<{ status: number; body: string; location: string | null }> {
    const page = await this.request(path)
    expect(page.status).toBe(200)
    const token = page.body.match(/name="csrfmiddlewaretoken" value="([^"]+)"/)?.[1]
    if (!token) throw new Error(`no CSRF token in the form of ${path}`)
    expect(this.cookie('csrftoken')).toBeDefined()
    return this.request(path, { csrfmiddlewaretoken: token, ...fields })
  }
}

beforeAll(async () => {
  WHEELHOUSE = testWheelhouse('Django, psycopg2-binary and dj-database-url')
  tmp = await makeTempDir('sitecycle-example-django-')
  // Apache's daemons (www-data) work in the site below it.
  await chmod(tmp, 0o755)
  root = join(tmp, 'site')
  releases = join(tmp, 'releases')
  const src = join(tmp, 'src')
  const src1 = join(tmp, 'src-1.0.0')
  for (const dir of [src, src1])
    await cp(EXAMPLE, dir, { recursive: true, filter: p => !p.includes('__pycache__') })
  await version1(src1)
  const version = (await readFile(join(src, 'mysite', '__init__.py'), 'utf8')).match(
    /^__version__ = "([^"]+)"$/m
  )![1]
  const build = (sourceDir: string) =>
    buildRelease({
      sourceDir,
      outDir: releases,
      commit: null,
      wheelhouse: { findLinks: [WHEELHOUSE] }
    })
  ;[apache, pg] = await Promise.all([
    startApache(),
    startPostgres(),
    build(src1).then(() => build(src))
  ])
  expect(version).toBe('2.0.0')
  pg.sql('postgres', `create database ${DB}`)
  pg.sql('postgres', `create database ${PREVIEW_DB}`)
  const port = await freePort()
  const previewPort = await freePort()
  url = `http://127.0.0.1:${port}`
  previewUrl = `http://127.0.0.1:${previewPort}`
  const anonymize = join(tmp, 'anonymize.sql')
  await writeFile(
    anonymize,
    "UPDATE auth_user SET email = 'user' || id || '@example.invalid', password = '!';\n"
  )
  const example = await readFile(join(EXAMPLE, 'sitecycle.yml'), 'utf8')
  configFile = join(tmp, 'sitecycle.yml')
  await writeFile(
    configFile,
    `${exampleBlock(EXAMPLE, example, 'app')}
sites:
  v1:
    host: local
    root: ${root}
    url: ${url}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    env:
      DJANGO_ALLOWED_HOSTS: "127.0.0.1"
    database: { engine: postgres, name: ${DB}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
${exampleBlock(EXAMPLE, example, 'hooks', '    ')}
    keep_releases: 3
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
  v2:
    role: preview
    from: v1
    host: local
    root: ${join(tmp, 'preview')}
    url: ${previewUrl}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    env:
      DJANGO_ALLOWED_HOSTS: "127.0.0.1"
    database: { engine: postgres, name: ${PREVIEW_DB}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
    anonymize: ${anonymize}
${exampleBlock(EXAMPLE, example, 'hooks', '    ')}
    keep_releases: 3
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${previewPort}
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

test('1.0.0 deployed first: its one migration applied, its guestbook served', async () => {
  await ok(['deploy', 'v1', '--release', releases, '--version', '1.0.0'])
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '1.0.0' })
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial')
  const page = await httpGet(`${url}/`)
  expect(page.status).toBe(200)
  expect(page.body).toContain('No entries yet.')
  expect(page.body).not.toContain('name="author"')
})

test('2.0.0 deployed over it with its hooks: 0002 applied while frozen, static files collected into the release, the admin served', async () => {
  const r = await ok(['deploy', 'v1', '--release', releases, '--version', '2.0.0'])
  expect(r.stderr).toMatch(/freeze/)
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '2.0.0' })
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial\n0002_entry_author')
  expect(
    pg
      .sql(
        DB,
        "select 1 from information_schema.columns where table_name = 'guestbook_entry' and column_name = 'author'"
      )
      .trim()
  ).toBe('1')
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'admin', 'css', 'base.css'))).toBe(
    true
  )
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'))).toBe(true)
  // static: the collected files are Apache's to serve, from the live slot's release (DEBUG off:
  // Django would not serve them); a missing one is Apache's 404.
  const css = await httpGet(`${url}/static/guestbook/style.css`)
  expect(css.status).toBe(200)
  expect(css.body).toBe(
    (
      await readFile(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'), 'utf8')
    ).trim()
  )
  expect((await httpGet(`${url}/static/guestbook/none.css`)).status).toBe(404)
  // shared: the media folder made by init for www-data, served at /media/, named to the app.
  expect(statSync(join(root, 'shared', 'media')).uid).toBe(
    Number(execFileSync('id', ['-u', 'www-data']).toString())
  )
  await writeFile(join(root, 'shared', 'media', 'upload.txt'), 'uploaded\n')
  expect(await httpGet(`${url}/media/upload.txt`)).toEqual({ status: 200, body: 'uploaded' })
  const login = await httpGet(`${url}/admin/login/`)
  expect(login.status).toBe(200)
  expect(login.body).toContain('Django administration')
  // DEBUG off: an unknown page is a plain 404, no traceback.
  const missing = await httpGet(`${url}/no-such-page/`)
  expect(missing.status).toBe(404)
  expect(missing.body).not.toContain('Traceback')
})

test('a superuser made by sitecycle run, as www-data, in the live release, with a password', async () => {
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

test('over HTTP: the superuser logs in to the admin, signs the guestbook through its form, the entry is listed', async () => {
  const browser = new Browser(url)
  const login = await browser.submit('/admin/login/', {
    username: 'admin',
    password: PASSWORD,
    next: '/admin/'
  })
  expect({ status: login.status, location: login.location }).toEqual({
    status: 302,
    location: '/admin/'
  })
  expect(browser.cookie('sessionid')).toBeDefined()
  const home = await browser.request('/admin/')
  expect(home.status).toBe(200)
  expect(home.body).toContain('Site administration')
  // A wrong password is refused: the login above was the password's doing.
  const stranger = await new Browser(url).submit('/admin/login/', {
    username: 'admin',
    password: 'not-the-password',
    next: '/admin/'
  })
  expect(stranger.status).toBe(200)
  expect(stranger.body).toContain('Please enter the correct username and password')

  const signed = await browser.submit('/', { author: AUTHOR, text: MESSAGE })
  expect({ status: signed.status, location: signed.location }).toEqual({
    status: 302,
    location: '/'
  })
  const page = await browser.request('/')
  expect(page.body).toContain('<li class="entry">ann: signed over HTTP &lt;2.0.0&gt;</li>')
  // A POST without the CSRF token is Django's 403, nothing written.
  expect((await new Browser(url).request('/', { author: 'x', text: 'forged' })).status).toBe(403)
  expect(pg.sql(DB, 'select author, text from guestbook_entry').trim()).toBe(`${AUTHOR}|${MESSAGE}`)
  // The admin lists the entry too.
  const admin = await browser.request('/admin/guestbook/entry/')
  expect(admin.status).toBe(200)
  expect(admin.body).toContain('signed over HTTP &lt;2.0.0&gt;')
})

test('rollback to 1.0.0: code only, the entry written under 2.0.0 still listed, the admin still logs in, a new entry is a 500 (0002 column)', async () => {
  const r = await ok(['rollback', 'v1'])
  expect(r.stdout + r.stderr).toMatch(/1\.0\.0/)
  // Said plainly (DESIGN rule 4): the database is left as 2.0.0 left it.
  expect(r.stderr).toContain(
    'the rollback of site v1 is code only: its database stays as 2.0.0 left it (migrations are not undone)'
  )
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '1.0.0' })
  // The database is as 2.0.0 left it (a rollback restores no data): 0002 and its column stay;
  // 1.0.0 reads past the column it does not know.
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial\n0002_entry_author')
  expect(pg.sql(DB, 'select author, text from guestbook_entry').trim()).toBe(`${AUTHOR}|${MESSAGE}`)
  const page = await httpGet(`${url}/`)
  expect(page.status).toBe(200)
  expect(page.body).toContain('<li class="entry">signed over HTTP &lt;2.0.0&gt;</li>')
  expect(page.body).not.toContain('name="author"')
  const browser = new Browser(url)
  const login = await browser.submit('/admin/login/', {
    username: 'admin',
    password: PASSWORD,
    next: '/admin/'
  })
  expect(login.status).toBe(302)
  expect((await browser.request('/admin/guestbook/entry/')).body).toContain(
    'signed over HTTP &lt;2.0.0&gt;'
  )
  // What the example does on writes after this rollback: 0002 adds `author` with a default that
  // is Django's, not the database's (AddField drops it once the column is filled), so 1.0.0's
  // INSERT, which does not name the column, breaks its NOT NULL: signing is a 500 and nothing is
  // written until 2.0.0 is back (a `db_default` in 0002 would let 1.0.0 write).
  const signed = await browser.submit('/', { text: 'signed under 1.0.0' })
  expect(signed.status).toBe(500)
  expect(signed.body).not.toContain('Traceback')
  expect(pg.sql(DB, 'select count(*) from guestbook_entry').trim()).toBe('1')
})

test('a preview (v2, its own database) synced from v1 shows the entry, its users anonymised', async () => {
  // The second site on this Apache: init reloads it only when told.
  await ok(['init', 'v2', '--reload'])
  await ok(['deploy', 'v2', '--release', releases, '--version', '2.0.0'])
  expect((await httpGet(`${previewUrl}/`)).status).toBe(401)
  expect((await httpGet(`${previewUrl}/`, previewAuth)).body).toContain('No entries yet.')
  await ok(['sync', 'v2'])
  expect(await httpGet(`${previewUrl}/__version__`, previewAuth)).toEqual({
    status: 200,
    body: '2.0.0'
  })
  const page = await httpGet(`${previewUrl}/`, previewAuth)
  expect(page.status).toBe(200)
  expect(page.body).toContain('<li class="entry">ann: signed over HTTP &lt;2.0.0&gt;</li>')
  expect(pg.sql(PREVIEW_DB, 'select email, password from auth_user').trim()).toBe(
    'user1@example.invalid|!'
  )
  // Production keeps its own.
  expect(pg.sql(DB, 'select email from auth_user').trim()).toBe('admin@example.org')
})
