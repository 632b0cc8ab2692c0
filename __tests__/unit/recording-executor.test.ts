import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cmd } from '../../src/commands/command.js'
import { CommandError } from '../../src/hosts/executor.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { SitecycleError } from '../../src/util/errors.js'

describe('RecordingExecutor', () => {
  let dir: string
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-rec-'))
  })
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('records every call in order and lists the argv of runs', async () => {
    const rec = new RecordingExecutor()
    const src = path.join(dir, 'pkg.tar.gz')
    await fs.writeFile(src, 'sdist')
    await rec.run(cmd(['mkdir', '-p', '/srv/a']))
    await rec.writeFile('/srv/a/x', 'hello', 0o640)
    await rec.put(src, '/srv/a/pkg.tar.gz')
    await rec.readFile('/srv/a/x')
    await rec.tryRun(cmd(['ls'], { cwd: '/srv/a' }), { timeoutMs: 5 })
    await rec.get('/srv/a/x', path.join(dir, 'back'))

    expect(rec.calls.map(c => c.type)).toEqual([
      'run',
      'writeFile',
      'put',
      'readFile',
      'run',
      'get'
    ])
    expect(rec.calls[1]).toEqual({
      type: 'writeFile',
      path: '/srv/a/x',
      content: 'hello',
      mode: 0o640
    })
    expect(rec.calls[2]).toMatchObject({
      type: 'put',
      localPath: src,
      path: '/srv/a/pkg.tar.gz',
      content: 'sdist'
    })
    expect(rec.calls[3]).toEqual({ type: 'readFile', path: '/srv/a/x', content: 'hello' })
    expect(rec.calls[4]).toMatchObject({ command: { cwd: '/srv/a' }, options: { timeoutMs: 5 } })
    expect(rec.commands()).toEqual([['mkdir', '-p', '/srv/a'], ['ls']])
    expect(await fs.readFile(path.join(dir, 'back'), 'utf8')).toBe('hello')
  })

  it('answers exit 0 with empty output by default', async () => {
    expect(await new RecordingExecutor().run(cmd(['anything']))).toEqual({
      code: 0,
      stdout: '',
      stderr: ''
    })
  })

  it('answers programmed commands, first matching rule first', async () => {
    const rec = new RecordingExecutor()
      .respond(argvStartsWith('pip', 'show'), { stdout: 'Version: 1.2.3\n' })
      .respond(
        c => c.argv[0] === 'pip',
        c => ({ stdout: `pip ${c.argv[1]}` })
      )
      .respond(() => true, { stdout: 'catch-all' })
    expect((await rec.run(cmd(['pip', 'show', 'x']))).stdout).toBe('Version: 1.2.3\n')
    expect((await rec.run(cmd(['pip', 'list']))).stdout).toBe('pip list')
    expect((await rec.run(cmd(['ls']))).stdout).toBe('catch-all')
  })

  it('run throws CommandError on non-zero like the real executors; tryRun never throws', async () => {
    const rec = new RecordingExecutor('ssh://deploy@web1:22').respond(argvStartsWith('false'), {
      code: 2,
      stderr: 'nope\n'
    })
    expect(await rec.tryRun(cmd(['false']))).toEqual({ code: 2, stdout: '', stderr: 'nope\n' })
    const error = await rec.run(cmd(['false', 'x'])).catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(error).toMatchObject({ host: 'ssh://deploy@web1:22', code: 2, stderr: 'nope\n' })
    // Failed runs are recorded too, with their result.
    expect(rec.calls.map(c => c.result?.code)).toEqual([2, 2])
  })

  it('lets a response throw, to simulate a connection failure', async () => {
    const rec = new RecordingExecutor().respond(
      () => true,
      () => {
        throw new SitecycleError('connection lost', 'host')
      }
    )
    await expect(rec.tryRun(cmd(['ls']))).rejects.toThrow('connection lost')
  })

  it('hides redacted secrets in answers and errors', async () => {
    const rec = new RecordingExecutor().respond(() => true, {
      code: 1,
      stdout: 'token=abc123',
      stderr: 'bad abc123'
    })
    const c = cmd(['curl', '-H', 'Authorization: abc123'], { redact: ['abc123'] })
    expect(await rec.tryRun(c)).toEqual({ code: 1, stdout: 'token=***', stderr: 'bad ***' })
    const error = await rec.run(c).catch(e => e)
    expect(error.message).not.toContain('abc123')
    expect(error.stderr).toBe('bad ***')
  })

  it('keeps files in memory: writes and puts are read back, seeded files are readable, missing is undefined', async () => {
    const rec = new RecordingExecutor()
    rec.files.set('/srv/live.map', 'live blue\n')
    expect(await rec.readFile('/srv/live.map')).toBe('live blue\n')
    await rec.writeFile('/srv/live.map', 'live green\n')
    expect(await rec.readFile('/srv/live.map')).toBe('live green\n')
    expect(await rec.readFile('/srv/nothing')).toBeUndefined()
    await rec.writeFile('/srv/app.ini', Buffer.from('secret'), 0o600)
    expect(rec.modes.get('/srv/app.ini')).toBe(0o600)
  })

  it('get of a file it does not hold fails like cat would', async () => {
    const error = await new RecordingExecutor().get('/nope', path.join(dir, 'x')).catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(error.code).toBe(1)
    await expect(fs.access(path.join(dir, 'x'))).rejects.toThrow()
  })
})
