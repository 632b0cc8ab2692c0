/**
 * The Flask example (examples/flask-app) carried the whole way, through the bundled CLI: a git
 * repository holding it, `sitecycle release` (its pytest suite run with the python on PATH, a
 * flit_core build in an isolated environment and a wheelhouse with Flask, all from the shared
 * wheelhouse, offline), `init` (the site's SQLite database made for the Apache user), `deploy` to
 * a real private Apache, a note written over HTTP, a new version released and deployed with the
 * note kept, a rollback, and a one-off `sitecycle run` of the app's flask command as www-data.
 *
 * The config's `app:` block is the example's own, verbatim; release and site settings are the
 * test's (temp dirs, the private Apache, the wheelhouse as find_links).
 *
 * Needs the wheelhouse (SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse): CI has it, so
 * a missing one fails here rather than skipping. Rebuild dist/cli.js after a src change.
 */
import { execFileSync } from 'node:child_process'
import { chmod, cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
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

let WHEELHOUSE: string
let apache: TestApache
let tmp: string
let repo: string
let root: string
let url: string
let venvBin: string
let configFile: string

const cli = (args: string[]): Promise<CliResult> =>
  runCli(['-c', configFile, ...args], {
    env: { PATH: `${venvBin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    timeoutMs: 300_000
  })

const ok = (args: string[]): Promise<CliResult> => mustPass(args, cli(args))

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim()
}

function commit(message: string): void {
  git('add', '-A')
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-q', '-m', message)
}

async function setVersion(version: string): Promise<void> {
  const file = join(repo, 'pyproject.toml')
  const text = await readFile(file, 'utf8')
  expect(text).toMatch(/^version = "[^"]+"$/m)
  await writeFile(file, text.replace(/^version = "[^"]+"$/m, `version = "${version}"`))
}

function idOf(user: string, flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim())
}

async function postNote(text: string): Promise<number> {
  const r = await fetch(`${url}/notes`, {
    method: 'POST',
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
  url = `http://127.0.0.1:${port}`
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
  git('init', '-q', '-b', 'main')
  commit('the Flask example')
})

afterAll(async () => {
  await apache?.stop()
  await removeTempDir(tmp)
})

test('released (tests, flit_core build, wheelhouse with Flask), deployed: a note written over HTTP is listed; the database belongs to www-data', async () => {
  const released = await ok(['release'])
  expect(released.stderr).toMatch(/passed/)
  const out = join(tmp, 'out', '1.0.0')
  const wheels = await readdir(join(out, 'wheelhouse'))
  expect(wheels.some(w => /^flask-3\..*\.whl$/i.test(w))).toBe(true)
  expect(await readdir(out)).toContain('sitecycle_notes-1.0.0-py3-none-any.whl')

  await ok(['init', 'v1'])
  await ok(['deploy', 'v1', '--release', join(tmp, 'out'), '--version', '1.0.0'])
  expect(await httpGet(`${url}/__version__`)).toEqual({ status: 200, body: '1.0.0' })
  expect((await httpGet(`${url}/`)).body).toContain('No notes yet.')
  expect(await postNote(NOTE)).toBe(303)
  expect((await httpGet(`${url}/`)).body).toContain(
    '<li class="note">remember the &lt;milk&gt; &amp; eggs</li>'
  )
  const db = await stat(join(root, 'data', 'notes.sqlite3'))
  expect(db.size).toBeGreaterThan(0)
  expect([db.uid, db.gid]).toEqual([idOf('www-data', '-u'), idOf('www-data', '-g')])
  expect(db.mode & 0o007).toBe(0)
})

test('a new version released and deployed keeps the note; a rollback too', async () => {
  await setVersion('1.1.0')
  commit('version 1.1.0')
  await ok(['release'])
  await ok(['deploy', 'v1', '--release', join(tmp, 'out'), '--version', '1.1.0'])
  expect((await httpGet(`${url}/__version__`)).body).toBe('1.1.0')
  const page = (await httpGet(`${url}/`)).body
  expect(page).toContain('&lt;milk&gt;')
  expect(page).toContain('notes 1.1.0')

  await ok(['rollback', 'v1'])
  expect((await httpGet(`${url}/__version__`)).body).toBe('1.0.0')
  expect((await httpGet(`${url}/`)).body).toContain('&lt;milk&gt;')
})

test("a one-off command (the app's flask init-db) runs in the live release as www-data; the data stays www-data's", async () => {
  const r = await cli(['run', 'v1', '--', 'flask', '--app', 'notes:create_app()', 'init-db'])
  expectExit(r, 0)
  expect(r.stdout).toBe(`notes database ${root}/data/notes.sqlite3: 1 notes\n`)
  expect(r.stderr).toMatch(/running in v1 1\.0\.0 as www-data/)
  const uid = idOf('www-data', '-u')
  const data = join(root, 'data')
  expect((await stat(data)).uid).toBe(uid)
  for (const f of await readdir(data))
    expect([f, (await stat(join(data, f))).uid]).toEqual([f, uid])
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
  await rm(join(tmp, 'out'), { recursive: true, force: true })
})
