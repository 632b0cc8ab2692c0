/**
 * The Flask example (examples/flask-app) carried the whole way, through the bundled CLI, as its
 * developer and operator would: a git repository holding it, tagged v1.0.0 and released by
 * `sitecycle release --tag v1.0.0` (its pytest suite run with the python on PATH, a flit_core
 * build in an isolated environment and a wheelhouse with Flask, all from the shared wheelhouse,
 * offline) into a directory store; `init` (the site's SQLite database made for the Apache user),
 * `deploy --version` from that store to a real private Apache (its hook copies the static files
 * into the release, which Apache serves), a user made by a one-off `sitecycle run` of the app's
 * create-user, a login and a note written over HTTP, a new version tagged, released
 * and deployed with the note kept, a rollback that still writes, a preview synced from production
 * (its notes anonymised, behind its basic auth), and a one-off `sitecycle run` of the app's flask
 * command as www-data.
 *
 * The config's `app:` block and hooks are the example's own, verbatim; release and site settings
 * are the test's (temp dirs, the private Apache, the wheelhouse as find_links).
 *
 * Needs the wheelhouse (SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse): CI has it, so
 * a missing one fails here rather than skipping. Rebuild dist/cli.js after a src change.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, cp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { REPO } from '../helpers/harness-repo.js'
import { exampleBlock, mustPass, testWheelhouse } from '../helpers/examples.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'

const PYTHON = '/usr/bin/python3'
const EXAMPLE = join(REPO, 'examples', 'flask-app')
const NOTE = 'remember the <milk> & eggs'
/** The preview's basic auth (a preview is closed by default). */
const ACCESS = 'preview-access-Pa55-7e21'
const previewAuth = {
  Authorization: `Basic ${Buffer.from(`sitecycle:${ACCESS}`).toString('base64')}`
}
/** The app's session key (a secret of the config) and its user's password. */
const SECRET = 'notes-session-key-5f0c1d'
const PASSWORD = 'alice-Pa55-word-91'

let WHEELHOUSE: string
let apache: TestApache
let tmp: string
let repo: string
let root: string
let previewRoot: string
let store: string
let url: string
let previewUrl: string
let venvBin: string
let configFile: string

const cli = (args: string[]): Promise<CliResult> =>
  runCli(['-c', configFile, ...args], {
    env: {
      PATH: `${venvBin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      SITECYCLE_ACCESS_PASSWORD: ACCESS,
      NOTES_SECRET_KEY: SECRET,
      // Locally, the caller's environment reaches `sitecycle run`'s command (create-user).
      NOTES_PASSWORD: PASSWORD
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

/** `sitecycle release --tag TAG`, as the release workflow runs it for a pushed tag. */
async function release(tag: string): Promise<CliResult> {
  const r = await ok(['release', '--tag', tag])
  // The example's pytest suite ran (not skipped) and passed.
  expect(r.stderr).toMatch(/run-tests ok \([\d.]+s\): passed: 11 passed\b/)
  expect(r.stdout + r.stderr).toMatch(
    new RegExp(`released sitecycle-notes ${tag.slice(1).replace(/\./g, '\\.')} as tag ${tag}`)
  )
  return r
}

/** The versions published to the directory store (<store>/releases/<version>/manifest.json). */
async function storeVersions(): Promise<string[]> {
  const dir = join(store, 'releases')
  const names = await readdir(dir)
  return names.filter(n => existsSync(join(dir, n, 'manifest.json'))).sort()
}

async function setVersion(version: string): Promise<void> {
  const file = join(repo, 'pyproject.toml')
  const text = await readFile(file, 'utf8')
  expect(text).toMatch(/^version = "[^"]+"$/m)
  await writeFile(file, text.replace(/^version = "[^"]+"$/m, `version = "${version}"`))
}

/** The Apache user's ids: the owner of the site's data. */
const WWW = {
  uid: Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).trim())
}

/** The session cookies of a login on each site (empty: not logged in). */
const sessions: Record<string, string> = {}

/** Log in through the app's form as a browser does; keeps the session cookie. */
async function logIn(
  base = url,
  headers: Record<string, string> = {},
  password = PASSWORD
): Promise<number> {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ name: 'alice', password }),
    redirect: 'manual'
  })
  await r.text()
  const cookie = r.headers.get('set-cookie')
  if (r.status === 303 && cookie) sessions[base] = cookie.split(';')[0]
  return r.status
}

async function postNote(
  text: string,
  base = url,
  headers: Record<string, string> = {}
): Promise<number> {
  const r = await fetch(`${base}/notes`, {
    method: 'POST',
    headers: { ...headers, ...(sessions[base] && { Cookie: sessions[base] }) },
    body: new URLSearchParams({ text }),
    redirect: 'manual'
  })
  await r.text()
  return r.status
}

beforeAll(async () => {
  WHEELHOUSE = testWheelhouse('Flask, pytest and flit_core')
  tmp = await makeTempDir('sitecycle-example-flask-')
  // Apache's daemons (www-data) work in the site below it.
  await chmod(tmp, 0o755)
  repo = join(tmp, 'repo')
  root = join(tmp, 'site')
  previewRoot = join(tmp, 'preview')
  store = join(tmp, 'store')
  await cp(EXAMPLE, repo, {
    recursive: true,
    filter: src => !/__pycache__|\.pytest_cache/.test(src)
  })
  // A virtualenv for the release's tests (app.tests: python -m pytest), as a developer has.
  const venv = join(tmp, 'venv')
  venvBin = join(venv, 'bin')
  const pipEnv: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
  for (const k of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']) delete pipEnv[k]
  execFileSync(PYTHON, ['-m', 'venv', venv])
  execFileSync(
    join(venvBin, 'pip'),
    ['install', '-q', '--no-index', '--find-links', WHEELHOUSE, 'flask', 'pytest'],
    { env: pipEnv }
  )
  apache = await startApache()
  const port = await freePort()
  const previewPort = await freePort()
  url = `http://127.0.0.1:${port}`
  previewUrl = `http://127.0.0.1:${previewPort}`
  // The preview's copy of the notes: their text replaced (production's data stays production's).
  const anonymize = join(tmp, 'anonymize.sql')
  await writeFile(
    anonymize,
    "UPDATE notes SET text = 'note ' || id;\nUPDATE users SET name = 'user' || rowid, password_hash = '!';\n"
  )
  const example = await readFile(join(EXAMPLE, 'sitecycle.yml'), 'utf8')
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
    health: { path: /__version__, expect_version: true, timeout: 20 }
    database: { engine: sqlite, name: ${root}/data/notes.sqlite3 }
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
    root: ${previewRoot}
    url: ${previewUrl}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    database: { engine: sqlite, name: ${previewRoot}/data/notes.sqlite3 }
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
  commitAndTag('the Flask example', 'v1.0.0')
})

afterAll(async () => {
  await apache?.stop()
  await removeTempDir(tmp)
})

test('released from its tag (its tests run) into the store, deployed from it by version: a user made by sitecycle run logs in and writes a note over HTTP; the database belongs to www-data; the static files are served by Apache', async () => {
  await release('v1.0.0')
  expect(await storeVersions()).toEqual(['1.0.0'])
  const published = join(store, 'releases', '1.0.0')
  const manifest = JSON.parse(await readFile(join(published, 'manifest.json'), 'utf8')) as {
    commit: string
    files: { name: string }[]
  }
  expect(manifest.commit).toBe(git('rev-parse', 'v1.0.0^{commit}'))
  expect(manifest.files.map(f => f.name)).toContain('sitecycle_notes-1.0.0-py3-none-any.whl')
  const wheels = await readdir(join(published, 'wheelhouse'))
  expect(wheels.some(w => /^flask-3\..*\.whl$/i.test(w))).toBe(true)

  await ok(['init', 'v1'])
  await ok(['deploy', 'v1', '--version', '1.0.0'])
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '1.0.0' })
  const home = (await httpGet(`${url}/`)).body
  expect(home).toContain('No notes yet.')
  expect(home).toContain('<link rel="stylesheet" href="/static/style.css">')
  // Writing needs a login; the first user is made with a one-off command, as www-data.
  expect(await postNote(NOTE)).toBe(403)
  const made = await ok([
    'run',
    'v1',
    '--',
    'flask',
    '--app',
    'notes:create_app()',
    'create-user',
    'alice'
  ])
  expect(made.stdout).toBe('user alice can log in\n')
  expect(await logIn(url, {}, 'not the password')).toBe(401)
  expect(await logIn()).toBe(303)
  expect(await postNote(NOTE)).toBe(303)
  expect((await httpGet(`${url}/`)).body).toContain(
    '<li class="note">remember the &lt;milk&gt; &amp; eggs</li>'
  )
  const data = await stat(join(root, 'data'))
  expect([data.uid, data.gid]).toEqual([WWW.uid, WWW.gid])
  expect(data.mode & 0o007).toBe(0)
  const db = await stat(join(root, 'data', 'notes.sqlite3'))
  expect(db.size).toBeGreaterThan(0)
  expect([db.uid, db.gid]).toEqual([WWW.uid, WWW.gid])
  expect(db.mode & 0o007).toBe(0)

  // static: the hook copied the package's files into the release; Apache serves them itself
  // (no hash in the name: revalidated each time), a missing one is Apache's 404.
  const css = await fetch(`${url}/static/style.css`)
  expect(css.status).toBe(200)
  expect(await css.text()).toBe(
    await readFile(join(EXAMPLE, 'notes', 'static', 'style.css'), 'utf8')
  )
  expect(css.headers.get('cache-control')).toBe('no-cache')
  expect(existsSync(join(root, 'releases', '1.0.0', 'static', 'style.css'))).toBe(true)
  // Apache's 404, not Flask's (the app's own /static route is never reached).
  const missing = await httpGet(`${url}/static/none.css`)
  expect(missing.status).toBe(404)
  expect(missing.body).not.toContain('check your spelling')
})

test('a new version tagged, released and deployed keeps the note; a rollback too, and 1.0.0 writes again', async () => {
  await setVersion('1.1.0')
  commitAndTag('version 1.1.0', 'v1.1.0')
  await release('v1.1.0')
  expect(await storeVersions()).toEqual(['1.0.0', '1.1.0'])
  await ok(['deploy', 'v1', '--version', '1.1.0'])
  expect((await httpGet(`${url}/__version__`)).body).toBe('1.1.0')
  const page = (await httpGet(`${url}/`)).body
  expect(page).toContain('&lt;milk&gt;')
  expect(page).toContain('notes 1.1.0')

  await ok(['rollback', 'v1'])
  expect((await httpGet(`${url}/__version__`)).body).toBe('1.0.0')
  // The session signed before is still good (same key), and 1.0.0 writes.
  expect(await postNote('after the rollback')).toBe(303)
  const back = (await httpGet(`${url}/`)).body
  expect(back).toContain('&lt;milk&gt;')
  expect(back).toContain('<li class="note">after the rollback</li>')
  expect(back).toContain('notes 1.0.0')
})

test("a preview (v2, its own SQLite database) synced from v1: behind its basic auth, the notes anonymised, its data www-data's", async () => {
  // The second site on this Apache: init reloads it only when told.
  await ok(['init', 'v2', '--reload'])
  await ok(['deploy', 'v2', '--version', '1.1.0'])
  expect((await httpGet(`${previewUrl}/`)).status).toBe(401)
  expect((await httpGet(`${previewUrl}/`, previewAuth)).body).toContain('No notes yet.')
  await ok(['sync', 'v2'])
  const page = await httpGet(`${previewUrl}/`, previewAuth)
  expect(page.status).toBe(200)
  expect(page.body).toContain('<li class="note">note 1</li>')
  expect(page.body).toContain('<li class="note">note 2</li>')
  expect(page.body).not.toContain('milk')
  expect(page.body).toContain('notes 1.1.0')
  // Production's users came with the data, anonymised: alice's password opens nothing here.
  expect(await logIn(previewUrl, previewAuth)).toBe(401)
  expect(
    execFileSync(
      '/usr/bin/sqlite3',
      [join(previewRoot, 'data', 'notes.sqlite3'), 'SELECT name FROM users'],
      {
        encoding: 'utf8'
      }
    )
  ).toBe('user1\n')
  const db = await stat(join(previewRoot, 'data', 'notes.sqlite3'))
  expect([db.uid, db.gid]).toEqual([WWW.uid, WWW.gid])
  expect(db.mode & 0o007).toBe(0)
  // The preview writes to its own copy (through its basic auth, with a user of its own made by a
  // one-off command there); production keeps its own notes.
  expect(await postNote('on the preview', previewUrl)).toBe(401)
  await ok(['run', 'v2', '--', 'flask', '--app', 'notes:create_app()', 'create-user', 'alice'])
  expect(await logIn(previewUrl, previewAuth)).toBe(303)
  expect(await postNote('on the preview', previewUrl, previewAuth)).toBe(303)
  expect((await httpGet(`${previewUrl}/`, previewAuth)).body).toContain(
    '<li class="note">on the preview</li>'
  )
  const prod = (await httpGet(`${url}/`)).body
  expect(prod).toContain('&lt;milk&gt;')
  expect(prod).not.toContain('on the preview')
})

test("a one-off command (the app's flask init-db) runs in the live release as www-data; the data stays www-data's", async () => {
  const r = await cli(['run', 'v1', '--', 'flask', '--app', 'notes:create_app()', 'init-db'])
  expectExit(r, 0)
  expect(r.stdout).toBe(`notes database ${root}/data/notes.sqlite3: 2 notes\n`)
  expect(r.stderr).toMatch(/running in v1 1\.0\.0 as www-data/)
  const data = join(root, 'data')
  expect((await stat(data)).uid).toBe(WWW.uid)
  for (const f of await readdir(data))
    expect([f, (await stat(join(data, f))).uid]).toEqual([f, WWW.uid])
  // Written by the command as www-data, read by the site.
  const who = await cli([
    'run',
    'v1',
    '--',
    'python',
    '-c',
    "import notes, sqlite3, os; c = sqlite3.connect(os.environ['NOTES_DATABASE'][10:]); c.execute(\"INSERT INTO notes (text) VALUES ('from run')\"); c.commit()"
  ])
  expectExit(who, 0)
  expect((await httpGet(`${url}/`)).body).toContain('<li class="note">from run</li>')
})
