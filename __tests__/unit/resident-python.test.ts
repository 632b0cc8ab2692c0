import { spawn, spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Writable } from 'node:stream'
import { cmd } from '../../src/commands/command.js'
import { LocalExecutor, runProcess } from '../../src/hosts/local-executor.js'
import {
  residentProgram,
  residentPython,
  residentPythonUsable
} from '../../src/hosts/resident-python.js'

const PY = '/usr/bin/python3'

/** The same program run by a new `python3 -I -S -c` process and by the resident Python. */
async function both(
  program: string,
  args: string[] = [],
  extra: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}
): Promise<{
  spawned: { code: number; stdout: string; stderr: string }
  resident: { code: number; stdout: string; stderr: string }
}> {
  const env = extra.env ?? { ...process.env }
  const options = { env, ...(extra.cwd && { cwd: extra.cwd }), input: extra.input }
  const s = await runProcess(PY, ['-I', '-S', '-c', program, ...args], options)
  const r = await residentPython(PY).run(program, args, options)
  const text = (x: { code: number; stdout: Buffer; stderr: Buffer }) => ({
    code: x.code,
    stdout: x.stdout.toString(),
    stderr: x.stderr.toString()
  })
  return { spawned: text(s), resident: text(r) }
}

describe('the resident Python runs host programs as a new python3 -I -S -c would', () => {
  let dir: string
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-resident-'))
  })
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('takes only `<absolute python> -I -S -c <program> ...`', () => {
    expect(residentProgram([PY, '-I', '-S', '-c', 'pass', 'a'])).toEqual({
      python: PY,
      program: 'pass',
      args: ['a']
    })
    expect(residentProgram(['python3', '-I', '-S', '-c', 'pass'])).toBeUndefined()
    expect(residentProgram([PY, '-I', '-c', 'pass'])).toBeUndefined()
    expect(residentProgram(['nice', '-n', '10', PY, '-I', '-S', '-c', 'pass'])).toBeUndefined()
    expect(residentProgram([PY, '-I', '-S', '-m', 'pip'])).toBeUndefined()
    expect(residentPythonUsable(PY)).toBe(true)
    expect(residentPythonUsable('/nonexistent/python3')).toBe(false)
  })

  it.each([
    [
      'argv, stdout and a normal end',
      'import sys, json; print(json.dumps(sys.argv))',
      ['a b', '', 'é\n$x']
    ],
    ['sys.exit(n)', 'import sys; print("out"); sys.stderr.write("err\\n"); sys.exit(3)', []],
    ['sys.exit(message)', 'import sys; sys.exit("it went wrong")', []],
    [
      'sys.exit(None) and sys.exit(256)',
      'import sys; sys.exit(256 if sys.argv[1] == "x" else None)',
      ['x']
    ],
    ['an exception', 'def f():\n    raise ValueError("bad value")\nf()', []],
    ['a syntax error', 'def (:', []],
    ['os._exit', 'import os, sys; sys.stdout.write("lost"); os._exit(4)', []],
    ['killed by a signal', 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)', []],
    ['__name__ is __main__', 'print(__name__)', []],
    [
      'a non-daemon thread ends before the process does',
      'import threading, time\ndef w():\n    time.sleep(0.2)\n    print("thread done", flush=True)\nthreading.Thread(target=w).start()\nprint("main done")',
      []
    ],
    ['atexit runs', 'import atexit; atexit.register(lambda: print("at exit")); print("body")', []],
    [
      'a subprocess inherits the output',
      'import subprocess, sys; sys.stdout.flush(); subprocess.run(["/bin/echo", "from a child"]); print("after")',
      []
    ],
    [
      'bytes through sys.stdout.buffer',
      'import sys; sys.stdout.buffer.write(bytes(range(256)))',
      []
    ]
  ])('%s', async (_name, program, args) => {
    const { spawned, resident } = await both(program, args)
    expect(resident).toEqual(spawned)
  })

  it('the environment is exactly the command’s, for the program and what it starts', async () => {
    const env = { PATH: '/usr/bin:/bin', ONLY_THIS: 'yes', LANG: 'C.UTF-8' }
    const program =
      'import os, subprocess; print(sorted(k for k in os.environ if k != "LC_CTYPE")); print(subprocess.run(["/usr/bin/env"], capture_output=True, text=True).stdout.count("ONLY_THIS=yes"))'
    const { spawned, resident } = await both(program, [], { env })
    expect(resident).toEqual(spawned)
    expect(resident.stdout).toContain("'ONLY_THIS'")
    expect(resident.stdout.trim().endsWith('1')).toBe(true)
  })

  it('runs in the working directory, and reports a missing one as a shell does', async () => {
    const program = 'import os; print(os.getcwd())'
    const { spawned, resident } = await both(program, [], { cwd: dir })
    expect(resident).toEqual(spawned)
    const missing = path.join(dir, 'nope')
    const exec = new LocalExecutor()
    const r = await exec.tryRun(cmd([PY, '-I', '-S', '-c', program], { cwd: missing }))
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `cd: ${missing}: No such file or directory\n`
    })
  })

  it('gets its input, large or none, and the input is closed', async () => {
    const program =
      'import sys, hashlib; d = sys.stdin.buffer.read(); print(len(d), hashlib.sha256(d).hexdigest())'
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'x')
    for (const input of [undefined, '', 'short\n', big]) {
      const { spawned, resident } = await both(program, [], { input })
      expect(resident).toEqual(spawned)
    }
    // A program that does not read its input does not hang or fail the run.
    const { resident } = await both('print("no read")', [], { input: big })
    expect(resident).toEqual({ code: 0, stdout: 'no read\n', stderr: '' })
  })

  it('passes large output in order, on both streams', async () => {
    const program =
      'import sys\nfor i in range(20000):\n    sys.stdout.write("line %d\\n" % i)\n    if i % 1000 == 0: sys.stderr.write("err %d\\n" % i)'
    const { spawned, resident } = await both(program)
    expect(resident).toEqual(spawned)
    expect(resident.stdout.split('\n')).toHaveLength(20001)
  })

  it('one program cannot change the next: each is a fresh fork', async () => {
    const server = residentPython(PY)
    const env = { ...process.env }
    const a = await server.run(
      'import json, os; json.dumps = None; os.environ["LEAK"] = "1"; X = 1; os.chdir("/")',
      [],
      { env, cwd: dir }
    )
    expect(a.code).toBe(0)
    const b = await server.run(
      'import json, os; print(json.dumps([globals().get("X"), os.environ.get("LEAK")]), os.getcwd())',
      [],
      { env, cwd: dir }
    )
    expect(b.stdout.toString()).toBe(`[null, null] ${dir}\n`)
  })

  it('runs programs side by side (one slow does not hold up others)', async () => {
    const server = residentPython(PY)
    const env = { ...process.env }
    const marker = path.join(dir, 'slow-may-end')
    const slow = server.run(
      'import os, sys, time\nwhile not os.path.exists(sys.argv[1]): time.sleep(0.01)\nprint("slow")',
      [marker],
      { env }
    )
    const quick = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        server.run('import sys; print(sys.argv[1])', [String(i)], { env })
      )
    )
    expect(quick.map(q => q.stdout.toString())).toEqual(
      Array.from({ length: 8 }, (_, i) => `${i}\n`)
    )
    await fs.writeFile(marker, '')
    expect((await slow).stdout.toString()).toBe('slow\n')
  })

  it('a timeout kills the program and reports 124 as a spawned process does', async () => {
    const program = 'import time, sys; print("started", flush=True); time.sleep(30)'
    const exec = new LocalExecutor()
    const r = await exec.tryRun(cmd([PY, '-I', '-S', '-c', program]), { timeoutMs: 500 })
    expect(r.code).toBe(124)
    expect(r.stdout).toBe('started\n')
    expect(r.stderr).toBe('killed after its timeout of 500 ms\n')
  })

  it('streams output to a writable as it comes, and ends it', async () => {
    const chunks: string[] = []
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString())
        cb()
      }
    })
    const exec = new LocalExecutor()
    const r = await exec.run(cmd([PY, '-I', '-S', '-c', 'print("one"); print("two")']), {
      stdout: sink
    })
    expect(r.stdout).toBe('')
    expect(chunks.join('')).toBe('one\ntwo\n')
    expect(sink.writableEnded).toBe(true)
  })

  it('its programs end when sitecycle is killed (SIGKILL)', async () => {
    const dir2 = dir
    // A long program forked from the resident Python gets SIGTERM with the Node process.
    const pidFile = path.join(dir2, 'long-pid')
    const killer = `
      const { spawn } = require('node:child_process')
      const server = spawn('/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', ${JSON.stringify(PY)}, '-I', '-S', '-c', require('node:fs').readFileSync(${JSON.stringify(path.resolve('src/host/resident-python.py'))}, 'utf8')], { stdio: ['pipe', 'pipe', 'inherit'] })
      server.stdin.write(JSON.stringify({ op: 'run', id: 1, code: 'import os, sys, time; open(sys.argv[1], "w").write(str(os.getpid())); time.sleep(60)', args: [${JSON.stringify(pidFile)}], env: { ...process.env }, cwd: null, input: null }) + '\\n')
      setInterval(() => {}, 1000)
    `
    const node = spawn(process.execPath, ['-e', killer], { stdio: 'ignore' })
    let pid = ''
    for (let i = 0; i < 200 && !pid; i++) {
      pid = await fs.readFile(pidFile, 'utf8').catch(() => '')
      if (!pid) await new Promise(r => setTimeout(r, 50))
    }
    expect(pid).toMatch(/^\d+$/)
    expect(alive(Number(pid))).toBe(true)
    node.kill('SIGKILL')
    let gone = false
    for (let i = 0; i < 200 && !gone; i++) {
      gone = !alive(Number(pid))
      if (!gone) await new Promise(r => setTimeout(r, 50))
    }
    expect(gone).toBe(true)
  })
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie not yet reaped counts as gone.
  const stat = spawnSync('/bin/ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' })
  return stat.stdout.trim() !== '' && !stat.stdout.trim().startsWith('Z')
}

describe("the resident Python's preloads", () => {
  const hostDir = new URL('../../src/host/', import.meta.url)
  const read = (name: string) => fs.readFile(new URL(name, hostDir), 'utf8')
  const importsOf = (text: string) => {
    const found = new Set<string>()
    for (const line of text.split('\n')) {
      const m = /^\s*(?:import ([\w., ]+)|from ([\w.]+) import )/.exec(line)
      if (m) for (const mod of (m[1] ?? m[2]).split(',')) found.add(mod.trim().split(' ')[0])
    }
    return found
  }

  test('leave out what only probe-http.py imports: its probes are asked from Node here', async () => {
    const list = /^PRELOAD = \[([^\]]*)\]/m.exec(await read('resident-python.py'))
    expect(list).not.toBeNull()
    const preload = new Set([...list![1].matchAll(/'([\w.]+)'/g)].map(m => m[1]))
    expect(preload.size).toBeGreaterThan(5)
    const others = new Set<string>()
    for (const name of await fs.readdir(hostDir))
      if (name.endsWith('.py') && name !== 'probe-http.py' && name !== 'resident-python.py')
        for (const mod of importsOf(await read(name))) others.add(mod)
    const probeOnly = [...importsOf(await read('probe-http.py'))].filter(m => !others.has(m))
    expect(probeOnly).toContain('urllib.request')
    expect(probeOnly.filter(m => preload.has(m))).toEqual([])
    expect(typeof new LocalExecutor().httpGet).toBe('function')
  })
})
