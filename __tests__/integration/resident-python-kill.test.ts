/**
 * The resident Python (src/hosts/resident-python.ts) of a CLI run that is killed: nothing of the
 * run keeps running, neither the resident process nor a host program forked from it. Found by a
 * marker in the environment of every process the run started.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { startCli } from '../helpers/cli.js'
import { noneLeft, processesMarked } from '../helpers/marked-processes.js'

const PY = '/usr/bin/python3'

describe('a killed CLI run leaves no resident Python and no host program', () => {
  let dir: string
  let config: string
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-resident-kill-'))
    const root = path.join(dir, 's1')
    await fs.mkdir(path.join(root, '.sitecycle'), { recursive: true })
    await fs.mkdir(path.join(root, 'shared'), { recursive: true })
    const db = path.join(root, 'shared', 'site.sqlite3')
    // About 60 MB: the copy takes long enough for a kill to find it running.
    execFileSync(PY, [
      '-c',
      'import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\ncon.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")\ncon.executemany("INSERT INTO t (body) VALUES (?)", (("x" * 400,) for _ in range(150000)))\ncon.commit()',
      db
    ])
    config = path.join(dir, 'sitecycle.yml')
    await fs.writeFile(
      config,
      `app: { package: sample, wsgi: "sample.wsgi:application", python: ${PY} }
sites:
  s1:
    root: ${root}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${db} }
`
    )
  })
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('killed after a step (the resident Python idle): it ends with the run', async () => {
    const mark = `SITECYCLE_TEST_MARK=${randomBytes(8).toString('hex')}`
    const [name, value] = mark.split('=') as [string, string]
    const cli = startCli(['snapshot', 's1', '--no-verify', '-c', config], {
      env: { [name]: value, SITECYCLE_FAULT_KILL_AFTER: 'remove-incomplete' }
    })
    const r = await cli.result
    expect(r.signal).toBe('SIGKILL')
    // The run had started its resident Python (remove-incomplete runs a host program).
    expect(r.stderr).toMatch(/remove-incomplete ok/)
    expect(await noneLeft(mark)).toEqual([])
  })

  it('killed while its copy program runs (SIGKILL to the CLI alone): the program ends too', async () => {
    const mark = `SITECYCLE_TEST_MARK=${randomBytes(8).toString('hex')}`
    const [name, value] = mark.split('=') as [string, string]
    const cli = startCli(['snapshot', 's1', '--no-verify', '-c', config], {
      env: { [name]: value }
    })
    for (let i = 0; i < 600 && !/online backup API/.test(cli.stderrSoFar()); i++)
      await new Promise(r => setTimeout(r, 10))
    expect(cli.stderrSoFar()).toMatch(/online backup API/)
    const before = await processesMarked(mark)
    // The CLI, its resident Python and (unless it has already ended) the copy program.
    expect(before.length).toBeGreaterThanOrEqual(2)
    process.kill(cli.pid, 'SIGKILL')
    const r = await cli.result
    expect(r.signal).toBe('SIGKILL')
    expect(await noneLeft(mark)).toEqual([])
  })
})
