/**
 * The slot's WSGI script, run for real with a virtualenv's Python the way a mod_wsgi daemon
 * runs it: loaded once, then called per request. A deploy restarts the idle slot's daemons
 * while pip still installs, so the script must wait for release.json (written after the config
 * and the hooks) before it imports the application, and must then see what pip installed
 * meanwhile, .pth files included, as if Python had started after the install.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { renderWsgiScript } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'
import { runProcess } from '../../src/hosts/local-executor.js'
import { REPO } from '../helpers/harness-repo.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'

const PYTHON = '/usr/bin/python3'
let work: string

/** Loads the script with runpy (as mod_wsgi loads it: once), then for each line on stdin calls
 * its `application` and prints {status, body}. */
const DRIVER = `
import io, json, runpy, sys
g = runpy.run_path(sys.argv[1], run_name='_mod_wsgi_test')
print(json.dumps({'loaded': True}), flush=True)
for line in sys.stdin:
    got = {}
    def start_response(status, headers):
        got['status'] = status
    environ = {'PATH_INFO': '/', 'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'SERVER_NAME': 'localhost',
               'SERVER_PORT': '80', 'wsgi.input': io.BytesIO(), 'wsgi.url_scheme': 'http', 'wsgi.errors': sys.stderr}
    try:
        body = b''.join(g['application'](environ, start_response)).decode()
        print(json.dumps({'status': got.get('status'), 'body': body}), flush=True)
    except Exception as e:
        print(json.dumps({'status': None, 'body': '%s: %s' % (type(e).__name__, e)}), flush=True)
`

interface Answer {
  status: string | null
  body: string
}

/** A site root with releases/<release> (a real, empty virtualenv) in slot blue, and blue.wsgi. */
async function siteWith(
  release: string,
  entry = 'lazyapp:application'
): Promise<{ root: string; dir: string; script: string }> {
  const root = join(work, `site-${release}-${Math.random().toString(36).slice(2, 8)}`)
  const dir = join(root, 'releases', release)
  await mkdir(join(root, 'slots'), { recursive: true })
  await mkdir(join(root, 'wsgi'), { recursive: true })
  const venv = await runProcess(PYTHON, ['-m', 'venv', '--without-pip', dir])
  if (venv.code !== 0) throw new Error(`venv: ${venv.stderr.toString()}`)
  await symlink(`../releases/${release}`, join(root, 'slots', 'blue'))
  const yaml = `app:\n  package: lazyapp\n  wsgi: ${JSON.stringify(entry)}\nsites:\n  v1:\n    host: local\n    root: ${root}\n    url: http://127.0.0.1:1\n    apache: { listen: 127.0.0.1:1 }\n`
  const site = parseConfig(yaml, join(root, 'sitecycle.yml')).sites.v1
  const script = join(root, 'wsgi', 'blue.wsgi')
  await writeFile(script, renderWsgiScript(site, entry, join(root, 'slots', 'blue'), 'blue'))
  return { root, dir, script }
}

/** What pip would have put into the virtualenv: a package, and a .pth file naming a folder
 * (outside site-packages) with a module the package imports. */
async function installLazyApp(dir: string): Promise<void> {
  const sitePackages = join(dir, 'lib', `python3.${await pythonMinor()}`, 'site-packages')
  await mkdir(join(sitePackages, 'lazyapp'), { recursive: true })
  await mkdir(join(dir, 'extras'), { recursive: true })
  await writeFile(join(dir, 'extras', 'extra_mod.py'), "VALUE = 'from-the-pth-folder'\n")
  await writeFile(join(sitePackages, 'lazyapp.pth'), `${join(dir, 'extras')}\n`)
  await writeFile(
    join(sitePackages, 'lazyapp', '__init__.py'),
    [
      'import os, extra_mod',
      "open(os.path.join(os.path.dirname(os.environ['SITECYCLE_CONFIG']), 'imported'), 'a').write('x')",
      'def application(environ, start_response):',
      "    start_response('200 OK', [('Content-Type', 'text/plain')])",
      "    return [('%s %s' % (extra_mod.VALUE, os.environ['SITECYCLE_CONFIG'])).encode()]",
      // A factory that reports its arguments and the environment as the module was imported.
      'AT_IMPORT = dict(os.environ)',
      'def create_app(label, n=0, flag=None):',
      '    def app(environ, start_response):',
      "        start_response('200 OK', [('Content-Type', 'text/plain')])",
      "        return [repr((label, n, flag, AT_IMPORT.get('APP_MODE'), AT_IMPORT.get('APP_TOKEN'))).encode()]",
      '    return app',
      ''
    ].join('\n')
  )
}

/** One 'x' per import of the application (its module writes it). */
async function imports(dir: string): Promise<string> {
  return readFile(join(dir, 'imported'), 'utf8').catch(() => '')
}

async function pythonMinor(): Promise<string> {
  const r = await runProcess(PYTHON, ['-c', 'import sys; print(sys.version_info[1])'])
  return r.stdout.toString().trim()
}

/** The script loaded in the release's own interpreter (through the slot link, as python-home). */
class Daemon {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly lines: Interface
  private readonly pending: ((line: string) => void)[] = []
  private stderr = ''
  constructor(root: string, script: string) {
    this.child = spawn(join(root, 'slots', 'blue', 'bin', 'python'), ['-c', DRIVER, script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    })
    this.child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString()))
    this.lines = createInterface({ input: this.child.stdout })
    this.lines.on('line', l => this.pending.shift()?.(l))
  }
  private next(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push(resolve)
      this.child.once('exit', code => reject(new Error(`driver exited ${code}: ${this.stderr}`)))
    })
  }
  async loaded(): Promise<void> {
    expect(JSON.parse(await this.next())).toEqual({ loaded: true })
  }
  async request(): Promise<Answer> {
    const line = this.next()
    this.child.stdin.write('go\n')
    return JSON.parse(await line) as Answer
  }
  stop(): void {
    this.child.stdin.end()
    this.child.kill()
  }
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-wsgi-script-')
})
afterAll(() => removeTempDir(work))

test('a daemon started before its release is complete loads it by itself as soon as release.json appears, .pth files included', async () => {
  const { root, dir, script } = await siteWith('2.0.0')
  const daemon = new Daemon(root, script)
  try {
    // Started while the virtualenv is empty (restart-idle, before pip).
    await daemon.loaded()
    expect(await daemon.request()).toEqual({
      status: '503 Service Unavailable',
      body: 'release 2.0.0 of site v1 is being installed\n'
    })
    // pip has installed, but config and hooks are not done: still not loaded.
    await installLazyApp(dir)
    expect((await daemon.request()).status).toBe('503 Service Unavailable')
    // complete-release: the daemon loads the application by itself, as a fresh Python would
    // (.pth files included), before any request comes: no user pays for the import.
    expect(await imports(dir)).toBe('')
    await writeFile(join(dir, 'release.json'), '{}\n')
    const deadline = Date.now() + 5000
    while ((await imports(dir)) === '' && Date.now() < deadline)
      await new Promise(r => setTimeout(r, 20))
    expect(await imports(dir)).toBe('x')
    const config = join(dir, 'app.ini')
    expect(await daemon.request()).toEqual({
      status: '200 OK',
      body: `from-the-pth-folder ${config}`
    })
    expect(await daemon.request()).toEqual({
      status: '200 OK',
      body: `from-the-pth-folder ${config}`
    })
    expect(await imports(dir)).toBe('x')
  } finally {
    daemon.stop()
  }
})

test('a request that comes as release.json appears gets the application, imported once', async () => {
  const { root, dir, script } = await siteWith('2.1.0')
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    await installLazyApp(dir)
    await writeFile(join(dir, 'release.json'), '{}\n')
    const answers = [await daemon.request(), await daemon.request()]
    expect(answers.map(a => a.status)).toEqual(['200 OK', '200 OK'])
    await new Promise(r => setTimeout(r, 200))
    expect(await imports(dir)).toBe('x')
  } finally {
    daemon.stop()
  }
})

test('a daemon started on a complete release imports the application at once', async () => {
  const { root, dir, script } = await siteWith('3.0.0')
  await installLazyApp(dir)
  await writeFile(join(dir, 'release.json'), '{}\n')
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    // Loaded at start: removing release.json now changes nothing for this daemon.
    await runProcess('rm', [join(dir, 'release.json')])
    expect(await daemon.request()).toEqual({
      status: '200 OK',
      body: `from-the-pth-folder ${join(dir, 'app.ini')}`
    })
  } finally {
    daemon.stop()
  }
})

test('the placeholder release answers 503: no release deployed yet', async () => {
  const { root, script } = await siteWith('_empty')
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    expect(await daemon.request()).toEqual({
      status: '503 Service Unavailable',
      body: 'site v1 has no release deployed yet\n'
    })
  } finally {
    daemon.stop()
  }
})

/** env.json as a deploy writes it (render-config, before release.json). */
async function writeEnv(dir: string, variables: Record<string, string>): Promise<void> {
  await writeFile(join(dir, 'env.json'), JSON.stringify({ variables, secret: ['APP_TOKEN'] }))
}

const FACTORY = `lazyapp:create_app('it\\'s "on"', n=-2, flag=True)`

test('a factory entry point is called with its literal arguments, after env.json is in os.environ (daemon started on a complete release)', async () => {
  const { root, dir, script } = await siteWith('4.0.0', FACTORY)
  await installLazyApp(dir)
  await writeEnv(dir, { APP_MODE: 'production', APP_TOKEN: 'tok en=1' })
  await writeFile(join(dir, 'release.json'), '{}\n')
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    expect(await daemon.request()).toEqual({
      status: '200 OK',
      body: `('it\\'s "on"', -2, True, 'production', 'tok en=1')`
    })
  } finally {
    daemon.stop()
  }
})

test('a daemon started before its release is complete loads env.json with the factory when release.json appears', async () => {
  const { root, dir, script } = await siteWith('4.1.0', FACTORY)
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    expect((await daemon.request()).status).toBe('503 Service Unavailable')
    await installLazyApp(dir)
    await writeEnv(dir, { APP_MODE: 'preview', APP_TOKEN: 'late' })
    await writeFile(join(dir, 'release.json'), '{}\n')
    const deadline = Date.now() + 5000
    while ((await imports(dir)) === '' && Date.now() < deadline)
      await new Promise(r => setTimeout(r, 20))
    expect(await daemon.request()).toEqual({
      status: '200 OK',
      body: `('it\\'s "on"', -2, True, 'preview', 'late')`
    })
  } finally {
    daemon.stop()
  }
})

/** Wheels of Django (the package index is not reachable from CI). */
const WHEELHOUSE = process.env.SITECYCLE_TEST_WHEELHOUSE ?? join(REPO, '..', 'shared', 'wheelhouse')

test("a Django project's project.wsgi:application runs with DJANGO_SETTINGS_MODULE from the release's env.json", async () => {
  const entry = 'mysite.wsgi:application'
  const { root, dir, script } = await siteWith('5.0.0', entry)
  const pip = await runProcess(
    PYTHON,
    [
      '-m',
      'pip',
      '--python',
      join(dir, 'bin', 'python'),
      'install',
      '--no-index',
      '--find-links',
      WHEELHOUSE,
      'django'
    ],
    { env: { PATH: '/usr/bin:/bin', PIP_CONFIG_FILE: '/dev/null' } }
  )
  if (pip.code !== 0) throw new Error(`pip: ${pip.stderr.toString()}`)
  const project = join(dir, 'lib', `python3.${await pythonMinor()}`, 'site-packages', 'mysite')
  await mkdir(project, { recursive: true })
  await writeFile(join(project, '__init__.py'), '')
  // As startproject writes it: a default that the environment overrides.
  await writeFile(
    join(project, 'wsgi.py'),
    "import os\nfrom django.core.wsgi import get_wsgi_application\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\napplication = get_wsgi_application()\n"
  )
  const settings = (name: string) =>
    `SECRET_KEY = 'k'\nDEBUG = False\nALLOWED_HOSTS = ['*']\nROOT_URLCONF = 'mysite.urls'\nNAME = '${name}'\nINSTALLED_APPS = []\nDATABASES = {}\n`
  await writeFile(join(project, 'settings.py'), settings('default settings'))
  await writeFile(join(project, 'production.py'), settings('production settings'))
  await writeFile(
    join(project, 'urls.py'),
    "from django.conf import settings\nfrom django.http import HttpResponse\nfrom django.urls import path\nurlpatterns = [path('', lambda r: HttpResponse(settings.NAME))]\n"
  )
  await writeEnv(dir, { DJANGO_SETTINGS_MODULE: 'mysite.production', APP_TOKEN: 'x' })
  await writeFile(join(dir, 'release.json'), '{}\n')
  const daemon = new Daemon(root, script)
  try {
    await daemon.loaded()
    expect(await daemon.request()).toEqual({ status: '200 OK', body: 'production settings' })
  } finally {
    daemon.stop()
  }
})
