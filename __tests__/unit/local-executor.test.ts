import { promises as fs } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { cmd } from '../../src/commands/command.js'
import { CommandError } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { parseConfig } from '../../src/config/load-config.js'
import { bodyHasVersion, describeProbe, probeHealth } from '../../src/sites/site-state.js'

const PY = '/usr/bin/python3'
/** A Python one-liner that prints its argv (after the script) as JSON. */
const PRINT_ARGV = 'import json,sys; print(json.dumps(sys.argv[1:]))'

describe('LocalExecutor', () => {
  const local = new LocalExecutor()
  let dir: string
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-local-'))
  })
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('is named local', () => {
    expect(local.name).toBe('local')
  })

  it('passes argv without a shell: hostile strings arrive intact and nothing in them runs', async () => {
    const marker = path.join(dir, 'pwned')
    const args = [`$(touch ${marker})`, `; touch ${marker}`, '`id`', "it's", 'a\nb', '*', '']
    const r = await local.run(cmd([PY, '-c', PRINT_ARGV, ...args]))
    expect(JSON.parse(r.stdout)).toEqual(args)
    await expect(fs.access(marker)).rejects.toThrow()
  })

  it('sets env, removes unsetEnv, keeps the rest of process.env, and runs in cwd', async () => {
    process.env.SITECYCLE_TEST_DROP = 'drop me'
    process.env.SITECYCLE_TEST_KEEP = 'keep me'
    try {
      const r = await local.run(
        cmd(
          [
            PY,
            '-c',
            'import json,os; print(json.dumps([os.environ.get(k) for k in ("A","SITECYCLE_TEST_DROP","SITECYCLE_TEST_KEEP")] + [os.getcwd()]))'
          ],
          { env: { A: 'x y' }, unsetEnv: ['SITECYCLE_TEST_DROP'], cwd: dir }
        )
      )
      expect(JSON.parse(r.stdout)).toEqual(['x y', null, 'keep me', await fs.realpath(dir)])
    } finally {
      delete process.env.SITECYCLE_TEST_DROP
      delete process.env.SITECYCLE_TEST_KEEP
    }
  })

  it('sends input to stdin', async () => {
    const r = await local.run(
      cmd([PY, '-c', 'import sys; sys.stdout.write(sys.stdin.read().upper())'], {
        input: 'hello\n'
      })
    )
    expect(r.stdout).toBe('HELLO\n')
  })

  it('closes stdin when there is no input, so a reader does not hang', async () => {
    const r = await local.run(cmd(['/bin/cat']), { timeoutMs: 5000 })
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' })
  })

  it('run throws CommandError with host, code and stderr tail; tryRun returns the result', async () => {
    const failing = cmd([
      PY,
      '-c',
      'import sys; print("out"); sys.stderr.write("boom\\n"); sys.exit(3)'
    ])
    expect(await local.tryRun(failing)).toEqual({ code: 3, stdout: 'out\n', stderr: 'boom\n' })
    const error = await local.run(failing).catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(error).toMatchObject({ host: 'local', code: 3, stderr: 'boom\n' })
    expect(error.message).toMatch(/exit code 3:\nboom/)
  })

  it('hides redacted secrets in the command line, output and error', async () => {
    const secret = 's3cr3t-token'
    const c = cmd(
      [
        PY,
        '-c',
        'import sys; print(sys.argv[1]); sys.stderr.write(sys.argv[1]); sys.exit(1)',
        secret
      ],
      {
        redact: [secret]
      }
    )
    const r = await local.tryRun(c)
    expect(r.stdout).toBe('***\n')
    expect(r.stderr).toBe('***')
    const error = await local.run(c).catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(secret)
  })

  it('kills a command that outlives its timeout and reports code 124', async () => {
    const r = await local.tryRun(cmd(['/bin/sleep', '30']), { timeoutMs: 200 })
    expect(r.code).toBe(124)
    expect(r.stderr).toMatch(/timeout of 200 ms/)
  })

  it('does not wait for a background grandchild that keeps the output pipe open', async () => {
    const r = await local.tryRun(cmd(['/bin/sh', '-c', '/bin/sleep 60 & echo $!']))
    expect(r.code).toBe(0)
    // The run ended while the grandchild still runs: it was not waited for.
    const pid = Number(r.stdout.trim())
    expect(() => process.kill(pid, 0)).not.toThrow()
    process.kill(pid, 'SIGKILL')
  })

  it('reports a missing program as 127 and a missing cwd as 1, like bash', async () => {
    expect((await local.tryRun(cmd([path.join(dir, 'no-such-program')]))).code).toBe(127)
    expect((await local.tryRun(cmd(['/bin/true'], { cwd: path.join(dir, 'nope') }))).code).toBe(1)
  })

  it('put copies with mode and creates parents; get copies back', async () => {
    const src = path.join(dir, 'src.txt')
    await fs.writeFile(src, 'payload')
    const dest = path.join(dir, 'a', 'b', 'dest.txt')
    await local.put(src, dest, 0o640)
    expect(await fs.readFile(dest, 'utf8')).toBe('payload')
    expect((await fs.stat(dest)).mode & 0o777).toBe(0o640)
    const back = path.join(dir, 'c', 'back.txt')
    await local.get(dest, back)
    expect(await fs.readFile(back, 'utf8')).toBe('payload')
  })

  it('writeFile writes with mode (replacing an existing file), readFile reads it, missing is undefined', async () => {
    const file = path.join(dir, 'x', 'app.ini')
    await local.writeFile(file, 'one', 0o600)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
    await local.writeFile(file, Buffer.from('two'), 0o644)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o644)
    expect(await local.readFile(file)).toBe('two')
    expect(await local.readFile(path.join(dir, 'missing'))).toBeUndefined()
  })

  it('readFile throws on errors other than a missing file', async () => {
    await expect(local.readFile(dir)).rejects.toThrow(/EISDIR/)
  })
})

describe('LocalExecutor without a process: appendFile, httpGet, and the health probe from here', () => {
  const local = new LocalExecutor()
  /** The same executor without httpGet: the probe then runs PROBE_HTTP with Python. */
  const viaPython = Object.assign(new LocalExecutor(), { httpGet: undefined })
  let dir: string
  let server: Server
  let port: number
  let handler: (req: IncomingMessage, res: ServerResponse) => void
  const seen: IncomingMessage[] = []
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-local-http-'))
    seen.length = 0
    server = createServer((req, res) => {
      seen.push(req)
      handler(req, res)
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterEach(async () => {
    await new Promise(r => server.close(r))
    await fs.rm(dir, { recursive: true, force: true })
  })
  const site = (timeout = 5) =>
    parseConfig(
      `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  v1:
    root: ${dir}/root
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: ${timeout} }
`,
      path.join(dir, 'sitecycle.yml')
    ).sites.v1

  it('appendFile creates the file and appends whole lines, also from many writers at once', async () => {
    const file = path.join(dir, 'journal.jsonl')
    await local.appendFile(file, 'first\n')
    const lines = Array.from({ length: 50 }, (_, i) => `${'x'.repeat(500)} ${i}\n`)
    await Promise.all(lines.map(l => local.appendFile(file, l)))
    const text = await fs.readFile(file, 'utf8')
    expect(text.startsWith('first\n')).toBe(true)
    expect(text.split('\n').filter(Boolean).sort()).toEqual(
      ['first', ...lines.map(l => l.trimEnd())].sort()
    )
  })

  it('httpGet sends the headers on a connection of its own and returns status, body and Location', async () => {
    handler = (req, res) => {
      res.writeHead(302, { Location: '/elsewhere' })
      res.end('moved')
    }
    const a = await local.httpGet(`http://127.0.0.1:${port}/x`, {
      headers: { Host: 'example.org', 'X-Sitecycle-Slot': 'green' },
      timeoutMs: 2000
    })
    expect(a).toEqual({ status: 302, body: 'moved', location: '/elsewhere' })
    expect(seen[0].headers).toMatchObject({
      host: 'example.org',
      'x-sitecycle-slot': 'green',
      connection: 'close'
    })
  })

  it('httpGet rejects when nothing answers', async () => {
    await new Promise(r => server.close(r))
    await expect(
      local.httpGet(`http://127.0.0.1:${port}/`, { headers: {}, timeoutMs: 2000 })
    ).rejects.toThrow(/ECONNREFUSED/)
    server = createServer()
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  })

  it('the probe waits for a server still starting (503), then needs 3 good answers in a row, from here and with Python alike', async () => {
    for (const exec of [local, viaPython]) {
      let n = 0
      seen.length = 0
      handler = (req, res) => {
        n++
        if (n <= 2) res.writeHead(503).end('starting')
        else res.writeHead(200).end(JSON.stringify({ version: '2.0.0' }))
      }
      const p = await probeHealth(exec, site(), PY, { slot: 'green', version: '2.0.0' })
      expect(p).toEqual({
        ok: true,
        path: '/.sitecycle/health',
        status: 200,
        body: JSON.stringify({ version: '2.0.0' }),
        error: null
      })
      expect(seen).toHaveLength(5)
      expect(seen.every(r => r.headers['x-sitecycle-slot'] === 'green')).toBe(true)
      expect(seen[0].headers.host).toBe('127.0.0.1')
      expect(seen.every(r => r.url === '/.sitecycle/health')).toBe(true)
    }
  })

  it('the probe fails on an application error after its grace, and on another version, from here and with Python alike', async () => {
    for (const exec of [local, viaPython]) {
      handler = (req, res) => res.writeHead(500).end('Internal Server Error')
      seen.length = 0
      const p = await probeHealth(exec, site(1), PY, { version: '2.0.0' })
      expect(p).toEqual({
        ok: false,
        path: '/.sitecycle/health',
        status: 500,
        body: 'Internal Server Error',
        error: null
      })
      // The grace: the 500 is asked again (every 250 ms for the 1 s grace) before it counts.
      expect(seen.length).toBeGreaterThanOrEqual(2)
      expect(seen.every(r => r.url === '/.sitecycle/health')).toBe(true)
      expect(describeProbe(p, 'the site', '2.0.0')).toBe(
        'the site (GET /.sitecycle/health) answered HTTP 500: Internal Server Error'
      )
      handler = (req, res) =>
        res.writeHead(200).end(JSON.stringify({ site: 'v1', slot: 'blue', version: '1.0.0' }))
      const q = await probeHealth(exec, site(1), PY, { version: '2.0.0' })
      expect(q).toMatchObject({ ok: false, status: 200 })
      expect(describeProbe(q, 'the site', '2.0.0')).toBe(
        'the site (GET /.sitecycle/health): the slot serves release 1.0.0, not 2.0.0'
      )
    }
  })

  it('the probe follows a redirect, as urllib does', async () => {
    for (const exec of [local, viaPython]) {
      handler = (req, res) => {
        if (req.url === '/.sitecycle/health')
          res.writeHead(301, { Location: '/.sitecycle/health/' }).end()
        else res.writeHead(200).end('2.0.0')
      }
      const p = await probeHealth(exec, site(), PY, { version: '2.0.0', successes: 1 })
      expect(p).toMatchObject({ ok: true, status: 200, body: '2.0.0' })
    }
  })

  it('the probe reports no answer until its timeout', async () => {
    const s = site(1)
    await new Promise(r => server.close(r))
    const p = await probeHealth(local, s, PY, { version: '2.0.0' })
    expect(p).toMatchObject({ ok: false, status: null })
    expect(p.error).toMatch(/ECONNREFUSED/)
    server = createServer()
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  })

  it("a slot whose WSGI script predates sitecycle's health path (404 from the application) is asked at health.path, as then", async () => {
    for (const exec of [local, viaPython]) {
      seen.length = 0
      handler = (req, res) => {
        if (req.url === '/__version__') res.writeHead(200).end('1.0.0')
        else res.writeHead(404).end('no such page')
      }
      const p = await probeHealth(exec, site(1), PY, { version: '2.0.0', successes: 1 })
      expect(p).toMatchObject({ ok: false, path: '/__version__', status: 200, body: '1.0.0' })
      expect(seen[0].url).toBe('/.sitecycle/health')
      expect(seen[seen.length - 1].url).toBe('/__version__')
      // The version the application's own path must show can be turned off: the message says how.
      expect(describeProbe(p, 'the site', '2.0.0')).toBe(
        'the site (GET /__version__) answered 200 but not version 2.0.0 (body: 1.0.0; if that path does not show the version, set health.expect_version: false to check only its status)'
      )
    }
  })

  it("describeProbe reads sitecycle's health answer: what the application's own health path did", () => {
    const answer = (app: object) => ({
      ok: false,
      path: '/.sitecycle/health',
      status: 500,
      error: null,
      body: JSON.stringify({ site: 'v1', slot: 'blue', version: '2.0.0', app })
    })
    expect(
      describeProbe(answer({ path: '/v', status: 200, version: false }), 'the site', '2.0.0')
    ).toBe(
      "the site (GET /.sitecycle/health): the application's /v answered 200 but not version 2.0.0 (if that path does not show the version, set health.expect_version: false to check only its status)"
    )
    expect(describeProbe(answer({ path: '/v', status: 404 }), 'the site', '2.0.0')).toBe(
      "the site (GET /.sitecycle/health): the application's /v answered HTTP 404"
    )
    expect(
      describeProbe(answer({ path: '/v', status: null, error: 'KeyError' }), 'the site', '2.0.0')
    ).toBe("the site (GET /.sitecycle/health): the application's /v raised KeyError")
  })

  it('bodyHasVersion: the plain body, or JSON with that version', () => {
    expect(bodyHasVersion(' 2.0.0\n', '2.0.0')).toBe(true)
    expect(bodyHasVersion('{"version": "2.0.0"}', '2.0.0')).toBe(true)
    expect(bodyHasVersion('{"version": "2.0.1"}', '2.0.0')).toBe(false)
    expect(bodyHasVersion('[1]', '2.0.0')).toBe(false)
    expect(bodyHasVersion('null', '2.0.0')).toBe(false)
  })
})

test('output passed through: stdout goes to the stream (and not the result), stderr to both', async () => {
  const { PassThrough } = await import('node:stream')
  const out = new PassThrough()
  const err = new PassThrough()
  const seen: string[] = []
  const errSeen: string[] = []
  out.on('data', (b: Buffer) => seen.push(b.toString()))
  err.on('data', (b: Buffer) => errSeen.push(b.toString()))
  const r = await new LocalExecutor().tryRun(
    { argv: ['sh', '-c', 'echo one; echo oops >&2; echo two; exit 3'] },
    { stdout: out, stderr: err }
  )
  expect(r).toEqual({ code: 3, stdout: '', stderr: 'oops\n' })
  expect(seen.join('')).toBe('one\ntwo\n')
  expect(errSeen.join('')).toBe('oops\n')
  expect(out.writableEnded).toBe(true)
})
