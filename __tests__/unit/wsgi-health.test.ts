/**
 * The slot's WSGI script answers sitecycle's health path itself, once the application has
 * imported: the release's version, and the status of the application's own health path when one
 * is set, never its content. Run by the real Python on a release laid out in a temporary folder.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderWsgiScript } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'

const PY = '/usr/bin/python3'

/** A tiny application: /v answers the release, /boom raises, anything else is its own page. */
const APP = `import os
def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/v':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [os.environ['SITECYCLE_RELEASE'].encode()]
    if path == '/plain':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']
    if path == '/busy':
        start_response('503 Service Unavailable', [])
        return [b'busy']
    if path == '/boom':
        raise RuntimeError('secret detail')
    start_response('404 Not Found', [])
    return [b'app page ' + path.encode()]
`

/** Loads the script, calls it for each path, prints status and body of each. */
const DRIVER = `import io, json, runpy, sys
application = runpy.run_path(sys.argv[1])['application']
out = {}
for path in sys.argv[2:]:
    got = {}
    def start_response(status, headers, exc_info=None):
        got['status'] = status
    body = b''.join(application({'PATH_INFO': path, 'REQUEST_METHOD': 'GET', 'QUERY_STRING': '', 'wsgi.input': io.BytesIO(b'')}, start_response))
    out[path] = [got['status'], body.decode()]
print(json.dumps(out))
`

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-wsgi-health-'))
  for (const v of ['2.0.0', '3.0.0']) {
    await mkdir(join(dir, 'releases', v), { recursive: true })
    await writeFile(join(dir, 'releases', v, 'hz.py'), APP)
  }
  await writeFile(join(dir, 'releases', '2.0.0', 'release.json'), '{}')
  await mkdir(join(dir, 'slots'))
  await symlink(join(dir, 'releases', '2.0.0'), join(dir, 'slots', 'blue'))
  // 3.0.0 is still being installed: no release.json.
  await symlink(join(dir, 'releases', '3.0.0'), join(dir, 'slots', 'green'))
  await writeFile(join(dir, 'driver.py'), DRIVER)
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Render the script of `slot` with the given health mapping, then GET `paths` through it. */
async function answers(
  health: string,
  paths: string[],
  slot = 'blue'
): Promise<Record<string, [string, string]>> {
  const site = parseConfig(
    `app: { package: hz, wsgi: "hz:app" }\nsites:\n  v1:\n    root: ${dir}\n    url: http://127.0.0.1:8080\n${health ? `    health: ${health}\n` : ''}`,
    join(dir, 'c.yml')
  ).sites.v1
  const script = join(dir, `${slot}-${paths.length}-${health.length}.wsgi`)
  await writeFile(script, renderWsgiScript(site, 'hz:app', join(dir, 'slots', slot), slot))
  const out = execFileSync(PY, [join(dir, 'driver.py'), script, ...paths], {
    env: {
      PATH: '/usr/bin:/bin',
      PYTHONPATH: join(dir, 'releases', slot === 'blue' ? '2.0.0' : '3.0.0')
    },
    encoding: 'utf8'
  })
  return JSON.parse(out) as Record<string, [string, string]>
}

test('with no health.path set, the health path answers the release version as JSON; other paths are the application', async () => {
  const a = await answers('', ['/.sitecycle/health', '/other'])
  expect(a['/.sitecycle/health'][0]).toBe('200 OK')
  expect(JSON.parse(a['/.sitecycle/health'][1])).toEqual({
    site: 'v1',
    slot: 'blue',
    version: '2.0.0'
  })
  expect(a['/other']).toEqual(['404 Not Found', 'app page /other'])
})

test("with health.path, the application's answer there is checked in-process: status and version, never its content", async () => {
  const a = await answers('{ path: /v }', ['/.sitecycle/health'])
  expect(a['/.sitecycle/health'][0]).toBe('200 OK')
  expect(JSON.parse(a['/.sitecycle/health'][1])).toEqual({
    site: 'v1',
    slot: 'blue',
    version: '2.0.0',
    app: { path: '/v', status: 200, version: true }
  })

  const wrong = await answers('{ path: /plain }', ['/.sitecycle/health'])
  expect(wrong['/.sitecycle/health'][0]).toBe('500 Internal Server Error')
  expect(JSON.parse(wrong['/.sitecycle/health'][1]).app).toEqual({
    path: '/plain',
    status: 200,
    version: false
  })
  expect(wrong['/.sitecycle/health'][1]).not.toContain('ok')

  const off = await answers('{ path: /plain, expect_version: false }', ['/.sitecycle/health'])
  expect(off['/.sitecycle/health'][0]).toBe('200 OK')
  expect(JSON.parse(off['/.sitecycle/health'][1]).app).toEqual({ path: '/plain', status: 200 })
})

test('an application health path that fails makes the answer 500 (503 while it says it is busy), naming no detail', async () => {
  const missing = await answers('{ path: /nope }', ['/.sitecycle/health'])
  expect(missing['/.sitecycle/health'][0]).toBe('500 Internal Server Error')
  expect(missing['/.sitecycle/health'][1]).not.toContain('app page')
  expect(JSON.parse(missing['/.sitecycle/health'][1]).app.status).toBe(404)

  const boom = await answers('{ path: /boom }', ['/.sitecycle/health'])
  expect(boom['/.sitecycle/health'][0]).toBe('500 Internal Server Error')
  expect(JSON.parse(boom['/.sitecycle/health'][1]).app).toEqual({
    path: '/boom',
    status: null,
    error: 'RuntimeError'
  })
  expect(boom['/.sitecycle/health'][1]).not.toContain('secret detail')

  const busy = await answers('{ path: /busy }', ['/.sitecycle/health'])
  expect(busy['/.sitecycle/health'][0]).toBe('503 Service Unavailable')
})

test('a release still being installed answers 503 on the health path too, not a version', async () => {
  const a = await answers('', ['/.sitecycle/health'], 'green')
  expect(a['/.sitecycle/health'][0]).toBe('503 Service Unavailable')
  expect(a['/.sitecycle/health'][1]).toContain('being installed')
})
