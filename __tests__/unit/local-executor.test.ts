import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cmd } from '../../src/commands/command.js'
import { CommandError } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'

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
    const started = Date.now()
    const r = await local.tryRun(cmd(['/bin/sleep', '30']), { timeoutMs: 200 })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(r.code).toBe(124)
    expect(r.stderr).toMatch(/timeout of 200 ms/)
  })

  it('does not wait for a background grandchild that keeps the output pipe open', async () => {
    const started = Date.now()
    const r = await local.tryRun(cmd(['/bin/sh', '-c', '/bin/sleep 4 & echo started']))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('started\n')
    expect(Date.now() - started).toBeLessThan(3000)
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
