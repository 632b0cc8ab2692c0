// A data operation's intent (what it is about to swap in) is its write-ahead record: whoever finds
// the run interrupted, after a power loss too, puts the site back from it. So the journal writes
// an intent to disk before the swap starts: the local executor fsyncs the journal and its folder;
// an executor without appendFile (SSH) runs `dd ... conv=fsync`, checked here under strace for
// one whole O_APPEND write followed by an fsync of that file. Other events stay plain appends.
import { jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { promises as realFs } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** What fs.open's handles were asked to sync, by the path opened. */
const synced: string[] = []
const opened: string[] = []
jest.unstable_mockModule('node:fs', () => {
  // The real module (an import here would be this mock).
  const actual = createRequire(import.meta.url)('node:fs') as typeof import('node:fs')
  const open = async (...args: Parameters<typeof realFs.open>) => {
    const handle = await actual.promises.open(...args)
    opened.push(String(args[0]))
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      synced.push(String(args[0]))
      return sync()
    }
    return handle
  }
  return {
    ...actual,
    default: { ...actual, promises: { ...actual.promises, open } },
    promises: { ...actual.promises, open }
  }
})

const { LocalExecutor } = await import('../../src/hosts/local-executor.js')
const { RecordingExecutor } = await import('../../src/hosts/recording-executor.js')
const { Journal } = await import('../../src/sites/journal.js')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-journal-intent-'))
  synced.length = 0
  opened.length = 0
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const INTENT = { id: 'op1', op: 'restore', event: 'intent' as const, intent: { database: 'x' } }
const STEP = { id: 'op1', op: 'restore', event: 'step' as const, step: 'stage-database' }

test('here: an intent is fsynced with its folder before append resolves; a step is not', async () => {
  const path = join(dir, 'journal.jsonl')
  const journal = new Journal(new LocalExecutor(), path)
  await journal.append(STEP)
  expect(synced).toEqual([])
  await journal.append(INTENT)
  expect(synced).toEqual([path, dir])
  const lines = (await readFile(path, 'utf8')).trim().split('\n')
  expect(lines.map(l => JSON.parse(l).event)).toEqual(['step', 'intent'])
  expect(JSON.parse(lines[1]).intent).toEqual({ database: 'x' })
})

test('without appendFile (over SSH): the intent through dd conv=fsync, a step through tee -a', async () => {
  const exec = new RecordingExecutor()
  const path = '/srv/site/.sitecycle/journal.jsonl'
  const journal = new Journal(exec, path)
  await journal.append(STEP)
  await journal.append(INTENT)
  const runs = exec.calls.filter(c => c.type === 'run')
  expect(runs.map(c => c.argv)).toEqual([
    ['tee', '-a', path],
    [
      'dd',
      `of=${path}`,
      'oflag=append',
      'conv=notrunc,fsync',
      'bs=1M',
      'iflag=fullblock',
      'status=none'
    ]
  ])
  expect(JSON.parse(String(runs[1].command?.input)).event).toBe('intent')
})

test('that dd appends the text in one O_APPEND write, then fsyncs that file (strace)', async () => {
  const { appendFileDurably } = await import('../../src/commands/files.js')
  const path = join(dir, 'journal.jsonl')
  await writeFile(path, '{"first":1}\n')
  const text = `${JSON.stringify({ event: 'intent', pad: 'x'.repeat(3000) })}\n`
  const c = appendFileDurably(path, text)
  const log = join(dir, 'strace.log')
  execFileSync(
    'strace',
    ['-f', '-e', 'trace=openat,dup2,dup3,write,fsync,fdatasync', '-o', log, ...c.argv],
    { input: String(c.input) }
  )
  expect(await readFile(path, 'utf8')).toBe(`{"first":1}\n${text}`)
  // The file's descriptors: the one opened on it with O_APPEND, and what dd dup2s it to.
  const calls = (await readFile(log, 'utf8')).split('\n').map(l => l.replace(/^\d+ +/, ''))
  const at = calls.findIndex(l => l.startsWith(`openat(AT_FDCWD, "${path}"`) && /O_APPEND/.test(l))
  expect(at).toBeGreaterThanOrEqual(0)
  const fds = new Set([/= (\d+)$/.exec(calls[at])![1]])
  const onFile: string[] = []
  for (const l of calls.slice(at + 1)) {
    const dup = /^dup[23]\((\d+), (\d+)/.exec(l)
    if (dup && fds.has(dup[1])) fds.add(dup[2])
    const call = /^(write|fsync|fdatasync)\((\d+)[,)].*= (-?\d+)$/.exec(l)
    if (call && fds.has(call[2]))
      onFile.push(`${call[1]} ${call[1] === 'write' ? call[3] : ''}`.trim())
  }
  expect(onFile).toEqual([`write ${Buffer.byteLength(text)}`, 'fsync'])
})
