/**
 * The Django example (examples/django-project) on a real Apache and PostgreSQL, through the
 * bundled CLI, as its developer and operator would carry it: a git repository holding the
 * example as its 1.0.0 was (without migration 0002 and the field it adds), tagged v1.0.0 and
 * released by `sitecycle release --tag v1.0.0` (the project's own Django tests run with the python
 * on PATH, a setuptools build and a wheelhouse with Django, psycopg2-binary and dj-database-url,
 * all from the shared wheelhouse, offline) into a directory store; then a commit bringing the
 * example as written (2.0.0: migration 0002), tagged and released the same way. Each version is
 * deployed from that store by version with the example's own `app:` block (settings and secret
 * key through env:, DATABASE_URL from the site's database) and hooks (migrate with hooks.freeze,
 * collectstatic into the release, hashed names cached long by Apache). A superuser made by
 * `sitecycle run` as www-data logs in to the admin over HTTP, the guestbook is signed through its
 * form (CSRF as a browser does it), an upload is written by `sitecycle run` as www-data,
 * `sitecycle rollback` puts 1.0.0 back (code only: 0002's column stays, and its database default
 * lets 1.0.0 go on writing) and a preview site synced from production shows the entries and the
 * upload (anonymised users, data owned by www-data).
 *
 * Needs the wheelhouse (SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse): CI has it, so
 * a missing one fails here rather than skipping. Rebuild dist/cli.js after a src change.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { chmod, cp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { REPO } from '../helpers/harness-repo.js'
import { exampleBlock, mustPass, testWheelhouse } from '../helpers/examples.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'

const PYTHON = '/usr/bin/python3'
const EXAMPLE = join(REPO, 'examples', 'django-project')
const SECRET = 'django-example-secret-key-5c1e0a9d7b'
const DB = 'guestbook_example'
const PREVIEW_DB = 'guestbook_preview'
const PASSWORD = 'guestbook-admin-Pa55-41d7'
const AUTHOR = 'ann'
const MESSAGE = 'signed over HTTP <2.0.0>'
const SIGNED_1 = 'signed under 1.0.0 after the rollback'
/** The preview's basic auth (a preview is closed by default). */
const ACCESS = 'preview-access-Pa55-93b2'
const previewAuth = {
  Authorization: `Basic ${Buffer.from(`sitecycle:${ACCESS}`).toString('base64')}`
}

let WHEELHOUSE: string
/** The Apache user's ids: the owner of the site's data. */
const WWW = {
  uid: Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).trim())
}
let apache: TestApache
let pg: PostgresServer
let tmp: string
let repo: string
let root: string
let url: string
let previewUrl: string
let store: string
let venvBin: string
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

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim()
}

/** Commit everything and tag it, as the developer does before pushing the tag. */
function commitAndTag(message: string, tag: string): void {
  git('add', '-A')
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-q', '-m', message)
  git('tag', tag)
}

/**
 * `sitecycle release --tag TAG` in the work tree, as the release workflow runs it for a pushed
 * tag: the project's Django tests run first, with the developer's virtualenv on PATH and a SQLite
 * DATABASE_URL (Django's test runner makes its own test database there).
 */
async function release(tag: string): Promise<CliResult> {
  const args = ['-c', configFile, 'release', '--tag', tag]
  const r = await mustPass(
    args,
    runCli(args, {
      cwd: repo,
      env: {
        DJANGO_SECRET_KEY: SECRET,
        DATABASE_URL: `sqlite:///${join(tmp, 'tests.sqlite3')}`,
        PATH: `${venvBin}:${process.env.PATH ?? '/usr/bin:/bin'}`
      },
      timeoutMs: 300_000
    })
  )
  // The project's tests ran (not skipped) on the test database Django's runner made, and passed.
  expect(r.stderr).toMatch(/run-tests ok \([\d.]+s\): passed: Destroying test database/)
  return r
}

/** The versions published to the directory store (<store>/releases/<version>/manifest.json). */
async function storeVersions(): Promise<string[]> {
  const dir = join(store, 'releases')
  const names = await readdir(dir)
  return names.filter(n => existsSync(join(dir, n, 'manifest.json'))).sort()
}

/** Replace `from` by `to` in a file of the copy; the example no longer as written fails here. */
async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  if (!text.includes(from)) throw new Error(`${file} no longer has ${JSON.stringify(from)}`)
  await writeFile(file, text.replace(from, to))
}

/**
 * The example as its 1.0.0 was: no migration 0002 and no `author` field (model, view, page,
 * admin, tests), `__version__` 1.0.0 (pyproject.toml takes its version from it).
 */
async function version1(src: string): Promise<void> {
  const app = join(src, 'guestbook')
  await rm(join(app, 'migrations', '0002_entry_author.py'))
  await edit(join(src, 'mysite', '__init__.py'), '__version__ = "2.0.0"', '__version__ = "1.0.0"')
  await edit(
    join(app, 'models.py'),
    `    # Added in version 2 (migration 0002), with a database default so that version 1, after a
    # rollback, can still insert rows without it.
    author = models.CharField(max_length=100, db_default="anonymous")
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
  await edit(
    join(app, 'tests', 'test_views.py'),
    `'<li class="entry">ann: hello &lt;there&gt;</li>'`,
    `'<li class="entry">hello &lt;there&gt;</li>'`
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
  store = join(tmp, 'store')
  repo = join(tmp, 'repo')
  await cp(EXAMPLE, repo, {
    recursive: true,
    filter: p => !/__pycache__|\.pytest_cache/.test(p)
  })
  await version1(repo)
  // A virtualenv for the release's tests (app.tests: python manage.py test guestbook), as the
  // developer has: Django and dj-database-url (the tests run on SQLite).
  const venv = join(tmp, 'venv')
  venvBin = join(venv, 'bin')
  const pipEnv: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
  for (const k of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']) delete pipEnv[k]
  execFileSync(PYTHON, ['-m', 'venv', venv])
  execFileSync(
    join(venvBin, 'pip'),
    ['install', '-q', '--no-index', '--find-links', WHEELHOUSE, 'django', 'dj-database-url'],
    { env: pipEnv }
  )
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
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
  // The config in the repository, as the developer keeps it: the example's app: block; release
  // and sites are the test's (temp dirs, the private Apache, the wheelhouse as find_links).
  configFile = join(repo, 'sitecycle.yml')
  await writeFile(
    configFile,
    `${exampleBlock(EXAMPLE, example, 'app')}
release:
  build: { isolation: true, find_links: [${JSON.stringify(WHEELHOUSE)}] }
  wheelhouse: { find_links: [${JSON.stringify(WHEELHOUSE)}] }
  out_dir: ../out
  stores:
    - { type: directory, path: ../store }
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
    store: { type: directory, path: ${store} }
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
    store: { type: directory, path: ${store} }
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
  git('init', '-q', '-b', 'main')
  commitAndTag('the guestbook 1.0.0', 'v1.0.0')
  await ok(['init', 'v1'])
}, 600_000)

afterAll(async () => {
  await apache?.stop()
  await pg?.stop()
  await removeTempDir(tmp)
})

test('1.0.0 released from its tag (its tests run) into the store, deployed from it by version: its one migration applied, its guestbook served', async () => {
  const released = await release('v1.0.0')
  expect(released.stdout + released.stderr).toMatch(
    /released sitecycle-guestbook 1\.0\.0 as tag v1\.0\.0/
  )
  expect(await storeVersions()).toEqual(['1.0.0'])
  const manifest = JSON.parse(
    await readFile(join(store, 'releases', '1.0.0', 'manifest.json'), 'utf8')
  ) as { commit: string; wheelhouse: { name: string }[] }
  expect(manifest.commit).toBe(git('rev-parse', 'v1.0.0^{commit}'))
  // The wheelhouse beside it: the dependencies' wheels (file names), installed offline.
  expect(manifest.wheelhouse.map(w => w.name.toLowerCase().split('-')[0])).toEqual(
    expect.arrayContaining(['django', 'psycopg2_binary', 'dj_database_url'])
  )
  await ok(['deploy', 'v1', '--version', '1.0.0'])
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '1.0.0' })
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial')
  const page = await httpGet(`${url}/`)
  expect(page.status).toBe(200)
  expect(page.body).toContain('No entries yet.')
  expect(page.body).not.toContain('name="author"')
})

test('2.0.0 (a commit adding migration 0002) released from its tag and deployed over it with its hooks: 0002 applied while frozen, static files collected into the release and served by Apache, the admin served', async () => {
  // The example as written is 2.0.0: the commit brings 0002 and the field it adds.
  await cp(EXAMPLE, repo, {
    recursive: true,
    filter: p => !/__pycache__|\.pytest_cache|sitecycle\.yml$/.test(p)
  })
  commitAndTag('who signed (migration 0002_entry_author), version 2.0.0', 'v2.0.0')
  expect(git('show', '--name-only', '--format=', 'v2.0.0')).toContain(
    'guestbook/migrations/0002_entry_author.py'
  )
  await release('v2.0.0')
  expect(await storeVersions()).toEqual(['1.0.0', '2.0.0'])
  const r = await ok(['deploy', 'v1', '--version', '2.0.0'])
  expect(r.stderr).toMatch(/freeze/)
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '2.0.0' })
  expect(
    pg.sql(DB, "select name from django_migrations where app = 'guestbook' order by name").trim()
  ).toBe('0001_initial\n0002_entry_author')
  // Expand/contract: the new column is NOT NULL with a default in the database itself, so the
  // previous release, which does not know it, can still insert rows after a rollback.
  expect(
    pg
      .sql(
        DB,
        "select is_nullable, column_default from information_schema.columns where table_name = 'guestbook_entry' and column_name = 'author'"
      )
      .trim()
  ).toBe("NO|'anonymous'::character varying")
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'admin', 'css', 'base.css'))).toBe(
    true
  )
  expect(existsSync(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'))).toBe(true)
  // static: the collected files are Apache's to serve, from the live slot's release (DEBUG off:
  // Django would not serve them); a missing one is Apache's 404.
  const css = await fetch(`${url}/static/guestbook/style.css`)
  expect(css.status).toBe(200)
  expect(await css.text()).toBe(
    await readFile(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'), 'utf8')
  )
  // A name without a content hash may change at the next release: revalidated, never cached long.
  expect(css.headers.get('cache-control')).toBe('no-cache')
  // The page links the name with the content hash (ManifestStaticFilesStorage): cached a year.
  const href = (await httpGet(`${url}/`)).body.match(
    /<link rel="stylesheet" href="(\/static\/guestbook\/style\.[0-9a-f]{12}\.css)">/
  )?.[1]
  expect(href).toBeDefined()
  const hashed = await fetch(`${url}${href!}`)
  expect(hashed.status).toBe(200)
  expect(await hashed.text()).toBe(
    await readFile(join(root, 'releases', '2.0.0', 'static', 'guestbook', 'style.css'), 'utf8')
  )
  expect(hashed.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
  expect((await httpGet(`${url}/static/guestbook/none.css`)).status).toBe(404)
  // No folder listing.
  const listing = await httpGet(`${url}/static/guestbook/`)
  expect(listing.status).toBe(404)
  expect(listing.body).not.toContain('style.css')
  // shared: the media folder made by init for www-data (0770), named to the app, served at
  // /media/; an upload written by the app's user (a one-off command here) is www-data's too.
  const media = statSync(join(root, 'shared', 'media'))
  expect([media.uid, media.gid, media.mode & 0o7777]).toEqual([WWW.uid, WWW.gid, 0o770])
  expectExit(
    await cli([
      'run',
      'v1',
      '--',
      'python',
      '-c',
      "import os; open(os.path.join(os.environ['DJANGO_MEDIA_ROOT'], 'upload.txt'), 'w').write('uploaded\\n')"
    ]),
    0
  )
  const upload = statSync(join(root, 'shared', 'media', 'upload.txt'))
  expect([upload.uid, upload.gid]).toEqual([WWW.uid, WWW.gid])
  // Written with the command's umask (022): readable, never writable, by others, who cannot
  // reach it anyway through the 0770 folder.
  expect(upload.mode & 0o002).toBe(0)
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

test('rollback to 1.0.0: code only, the entry written under 2.0.0 still listed, the admin still logs in, and 1.0.0 still signs the guestbook (0002 is rollback-safe)', async () => {
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
  // Writes after the rollback: 1.0.0's INSERT does not name 0002's NOT NULL column, and the
  // column's default is the database's (db_default), so the row gets 'anonymous'. A plain
  // `default=` would be Django's only (AddField drops it once the column is filled): a 500 here.
  const signed = await browser.submit('/', { text: SIGNED_1 })
  expect({ status: signed.status, location: signed.location }).toEqual({
    status: 302,
    location: '/'
  })
  expect(pg.sql(DB, 'select author, text from guestbook_entry order by id').trim()).toBe(
    `${AUTHOR}|${MESSAGE}\nanonymous|${SIGNED_1}`
  )
  expect((await browser.request('/')).body).toContain(`<li class="entry">${SIGNED_1}</li>`)
})

test("a preview (v2, its own database) synced from v1 shows the entries and the upload, its users anonymised, its data www-data's", async () => {
  // The second site on this Apache: init reloads it only when told.
  await ok(['init', 'v2', '--reload'])
  await ok(['deploy', 'v2', '--version', '2.0.0'])
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
  expect(page.body).toContain(`<li class="entry">anonymous: ${SIGNED_1}</li>`)
  // The uploads came along, given back to the Apache user, served by the preview.
  const media = join(tmp, 'preview', 'shared', 'media')
  const folder = statSync(media)
  expect([folder.uid, folder.gid, folder.mode & 0o7777]).toEqual([WWW.uid, WWW.gid, 0o770])
  const upload = statSync(join(media, 'upload.txt'))
  expect([upload.uid, upload.gid]).toEqual([WWW.uid, WWW.gid])
  expect(await httpGet(`${previewUrl}/media/upload.txt`, previewAuth)).toEqual({
    status: 200,
    body: 'uploaded'
  })
  expect(pg.sql(PREVIEW_DB, 'select email, password from auth_user').trim()).toBe(
    'user1@example.invalid|!'
  )
  // Production keeps its own.
  expect(pg.sql(DB, 'select email from auth_user').trim()).toBe('admin@example.org')
})
