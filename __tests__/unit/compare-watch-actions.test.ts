/**
 * The watch host program, and the compare and watch actions, on sites laid out by hand in a temp
 * dir (a virtualenv with one distribution and its RECORD, links, live.map, journal), read with the
 * real local executor and the machine's Python. The full story on real deploys is in
 * __tests__/integration/compare-watch.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runCompareAction } from '../../src/actions/compare.js'
import { runWatchAction } from '../../src/actions/watch.js'
import { parseConfig } from '../../src/config/load-config.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { watchSite } from '../../src/watch/watch.js'
import { FakeCore } from '../helpers/fake-core.js'

const SECRET = 'unit-secret-value-5521'
const exec = new LocalExecutor()
let dir: string

function record(file: string, data: Buffer | string): string {
  const b = Buffer.from(data)
  const hash = createHash('sha256').update(b).digest('base64url')
  return `${file},sha256=${hash},${b.length}`
}

/** A site root with release 1.0.0 live in slot blue, as a deploy leaves it. */
async function makeSite(name: string, opts: { value?: string } = {}): Promise<string> {
  const root = path.join(dir, name)
  const venv = path.join(root, 'releases', '1.0.0')
  const sp = path.join(venv, 'lib', 'python3.11', 'site-packages')
  const files: Record<string, string> = {
    'demo/__init__.py': `VALUE = ${opts.value ?? '1'}\n`,
    'demo/util.py': 'def f():\n    return 2\n',
    'demo-1.0.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0.0\n',
    'demo-1.0.0.dist-info/INSTALLER': 'pip\n'
  }
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(sp, rel)), { recursive: true })
    await fs.writeFile(path.join(sp, rel), text)
  }
  await fs.writeFile(
    path.join(sp, 'demo-1.0.0.dist-info', 'RECORD'),
    [
      ...Object.entries(files).map(([f, t]) => record(f, t)),
      'demo-1.0.0.dist-info/RECORD,,',
      ''
    ].join('\n')
  )
  // What compileall makes on the host: not in any RECORD, accepted beside a recorded source
  // when it holds what that source compiles to.
  await fs.mkdir(path.join(sp, 'demo', '__pycache__'))
  execFileSync('/usr/bin/python3', [
    '-c',
    'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)',
    path.join(sp, 'demo', '__init__.py'),
    path.join(sp, 'demo', '__pycache__', '__init__.cpython-311.pyc')
  ])
  await fs.mkdir(path.join(venv, 'bin'))
  await fs.symlink('/usr/bin/python3', path.join(venv, 'bin', 'python'))
  await fs.writeFile(path.join(venv, 'bin', 'activate'), `VIRTUAL_ENV=${venv}\n`)
  await fs.writeFile(path.join(venv, 'pyvenv.cfg'), 'home = /usr/bin\n')
  await fs.writeFile(
    path.join(venv, 'release.json'),
    JSON.stringify({ name: 'demo', version: '1.0.0', sha256: 'a'.repeat(64) })
  )
  const ini = `[app]\nsecret_key = ${SECRET}\nroot = ${root}\n`
  await fs.writeFile(path.join(venv, 'app.ini'), ini)
  await fs.writeFile(
    path.join(venv, 'app.ini.sha256'),
    `${createHash('sha256').update(ini).digest('hex')}  app.ini\n`
  )
  await fs.mkdir(path.join(root, 'releases', '_empty'))
  await fs.mkdir(path.join(root, 'slots'))
  await fs.symlink('../releases/1.0.0', path.join(root, 'slots', 'blue'))
  await fs.symlink('../releases/_empty', path.join(root, 'slots', 'green'))
  await fs.writeFile(path.join(root, 'live.map'), 'live blue\n')
  await fs.mkdir(path.join(root, '.sitecycle'))
  await fs.writeFile(
    path.join(root, '.sitecycle', 'journal.jsonl'),
    [
      { id: 'op1', op: 'deploy', event: 'start', at: 't0', version: '1.0.0' },
      { id: 'op1', op: 'deploy', event: 'end', at: 't1', status: 'deployed', live: '1.0.0' }
    ]
      .map(e => JSON.stringify(e))
      .join('\n') + '\n'
  )
  return root
}

async function writeConfig(): Promise<string> {
  await fs.writeFile(
    path.join(dir, 'app.ini.tmpl'),
    '[app]\nsecret_key = {{ secret.UNIT_KEY }}\nroot = {{ site.root }}\n'
  )
  const site = (name: string, port: number) => `
  ${name}:
    host: local
    root: ${dir}/${name}
    url: http://127.0.0.1:${port}
    config: { template: app.ini.tmpl }
    apache: { listen: '127.0.0.1:${port}', conf_dir: ${dir}/apache, enable_dir: null }
`
  const yaml = `app:\n  package: demo\n  wsgi: demo:app\nsites:${site('v1', 18001)}${site('v2', 18002)}`
  const file = path.join(dir, 'sitecycle.yml')
  await fs.writeFile(file, yaml)
  parseConfig(yaml, file)
  return file
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-cwa-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe('the watch host program on a virtualenv laid out by hand', () => {
  it('finds nothing in an untouched site, then each tampering precisely', async () => {
    const root = await makeSite('v1')
    const config = parseConfig(
      await fs.readFile(await writeConfig(), 'utf8'),
      path.join(dir, 'sitecycle.yml')
    )
    const site = config.sites.v1
    const clean = await watchSite({ config, site, exec })
    expect(clean.findings).toEqual([])
    // Four recorded files with a hash, and the byte code of one of them.
    expect(clean.files.checked).toBe(5)
    expect(clean.files.packages).toEqual(['demo-1.0.0'])

    const sp = `${root}/releases/1.0.0/lib/python3.11/site-packages`
    await fs.writeFile(`${sp}/demo/util.py`, 'def f():\n    return 3\n')
    await fs.rm(`${sp}/demo/__init__.py`)
    // Bytecode whose source no RECORD lists, and a .pyc outside __pycache__: both reported.
    await fs.writeFile(`${sp}/demo/__pycache__/evil.cpython-311.pyc`, 'x')
    await fs.writeFile(`${sp}/demo/util.pyc`, 'x')
    await fs.rm(`${root}/releases/1.0.0/bin/python`)
    await fs.symlink('/bin/sh', `${root}/releases/1.0.0/bin/python`)
    const r = await watchSite({ config, site, exec, cap: 1 })
    expect(r.files.counts).toEqual({ modified: 2, added: 2, removed: 1 })
    // The cap limits the listing, not the counts; the finding says how many more.
    expect(r.files.added).toEqual(['lib/python3.11/site-packages/demo/util.pyc'])
    expect(r.findings).toContain('... and 1 more added files')
    const all = await watchSite({ config, site, exec })
    expect(all.files.modified.map(m => m.path).sort()).toEqual([
      'bin/python',
      'lib/python3.11/site-packages/demo/util.py'
    ])
    expect(all.files.modified.find(m => m.path === 'bin/python')?.reason).toMatch(
      /points at \/(usr\/)?bin\/(da)?sh/
    )
    expect(all.files.added.sort()).toEqual([
      'lib/python3.11/site-packages/demo/__pycache__/evil.cpython-311.pyc',
      'lib/python3.11/site-packages/demo/util.pyc'
    ])
    expect(all.files.removed).toEqual([
      expect.objectContaining({
        path: 'lib/python3.11/site-packages/demo/__init__.py',
        package: 'demo-1.0.0'
      })
    ])
  })

  it('reports a release installed before config hashes were recorded as unrecorded, not drift', async () => {
    const root = await makeSite('v1')
    await fs.rm(`${root}/releases/1.0.0/app.ini.sha256`)
    const config = parseConfig(
      await fs.readFile(await writeConfig(), 'utf8'),
      path.join(dir, 'sitecycle.yml')
    )
    const r = await watchSite({ config, site: config.sites.v1, exec })
    expect(r.config.status).toBe('unrecorded')
    expect(r.drifted).toBe(false)
    await fs.rm(`${root}/releases/1.0.0/app.ini`)
    await fs.writeFile(`${root}/releases/1.0.0/app.ini.sha256`, `${'0'.repeat(64)}  app.ini\n`)
    const gone = await watchSite({ config, site: config.sites.v1, exec })
    expect(gone.config.status).toBe('missing')
    expect(gone.drifted).toBe(true)
  })
})

describe('the watch action', () => {
  it('clean: outputs drifted=false, a summary, a JSON report file', async () => {
    await makeSite('v1')
    const core = new FakeCore({ config: await writeConfig(), site: 'v1' })
    await runWatchAction(core, { reportDir: dir })
    expect(core.outputs.get('drifted')).toBe('false')
    expect(core.outputs.get('findings')).toBe('0')
    const report = JSON.parse(await fs.readFile(core.outputs.get('report-file')!, 'utf8'))
    expect(report.files.checked).toBe(5)
    expect(core.summaries.join('')).toContain('✅ Site v1 is as sitecycle installed it')
  })

  it('drift fails the step after writing the summary; fail-on-drift false only reports', async () => {
    const root = await makeSite('v1')
    await fs.appendFile(`${root}/releases/1.0.0/app.ini`, 'debug = true\n')
    const core = new FakeCore({ config: await writeConfig(), site: 'v1' })
    await expect(runWatchAction(core, { reportDir: dir })).rejects.toThrow(
      /site v1 has drifted: 1 findings/
    )
    expect(core.outputs.get('drifted')).toBe('true')
    expect(core.summaries.join('')).toMatch(
      /has drifted[\s\S]*app\.ini was changed after it was rendered/
    )
    expect(core.warnings.some(w => w.startsWith('site v1: config:'))).toBe(true)
    const lenient = new FakeCore({
      config: await writeConfig(),
      site: 'v1',
      'fail-on-drift': 'false'
    })
    await runWatchAction(lenient, { reportDir: dir })
    expect(lenient.outputs.get('drifted')).toBe('true')
  })

  it('a bad input fails before any host is read, with the input named', async () => {
    const core = new FakeCore({ config: await writeConfig(), site: 'v1', 'fail-on-drift': 'maybe' })
    await expect(runWatchAction(core, { reportDir: dir })).rejects.toThrow(
      "input 'fail-on-drift' is 'maybe'; expected true or false"
    )
    expect(core.summaries.join('')).toContain('Watch of site v1 failed')
  })
})

describe('the compare action', () => {
  it('same sites: same=true; a difference with fail-on-difference fails; the secret never shows', async () => {
    await makeSite('v1')
    await makeSite('v2')
    const config = await writeConfig()
    const secrets = JSON.stringify({ UNIT_KEY: SECRET })
    const same = new FakeCore({ config, 'site-a': 'v1', 'site-b': 'v2', 'config-secrets': secrets })
    await runCompareAction(same, { reportDir: dir })
    expect(same.outputs.get('same')).toBe('true')
    expect(same.outputs.get('differences')).toBe('0')
    expect(same.secrets).toContain(SECRET)

    await fs.rm(`${dir}/v2`, { recursive: true })
    await makeSite('v2', { value: '2' })
    const differ = new FakeCore({
      config,
      'site-a': 'v1',
      'site-b': 'v2',
      'fail-on-difference': 'true',
      'config-secrets': secrets
    })
    await expect(runCompareAction(differ, { reportDir: dir })).rejects.toThrow(
      'sites v1 and v2 differ in 1 places'
    )
    expect(differ.outputs.get('same')).toBe('false')
    const summary = differ.summaries.join('')
    expect(summary).toContain('lib/python3.11/site-packages/demo/__init__.py')
    const json = await fs.readFile(differ.outputs.get('report-file')!, 'utf8')
    for (const text of [summary, json, differ.log.map(([, line]) => line).join('\n')])
      expect(text).not.toContain(SECRET)
  })

  it('an empty site-b is named', async () => {
    const core = new FakeCore({ config: await writeConfig(), 'site-a': 'v1' })
    await expect(runCompareAction(core, { reportDir: dir })).rejects.toThrow(
      "input 'site-b' is empty"
    )
  })
})
