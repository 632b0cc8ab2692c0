/**
 * The state files a power loss must not take back or leave empty (an upgrade attempt's record, a
 * site's identity after a promote, a mirror's state) are committed by one host program
 * (host/commit-file.py: aside, fsync, rename, fsync of the folder), never written by the executor
 * and renamed with `mv`, which synced nothing. The program itself is tested on real files in
 * host-programs.test.ts.
 */
import { COMMIT_FILE_PROGRAM } from '../../src/commands/files.js'
import { parseConfig } from '../../src/config/load-config.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { attemptPath, moveAttempt, type AttemptRecord } from '../../src/sites/attempt-record.js'
import { addressOf, identityPath, newIdentity, writeIdentity } from '../../src/sites/identity.js'
import { mirrorStatePath, writeMirrorState } from '../../src/sites/mirror-state.js'

const PY = '/usr/bin/python3'

const config = parseConfig(
  `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  prod: { root: /srv/demo/prod, url: "http://127.0.0.1:8080" }
  pre: { role: preview, root: /srv/demo/pre, url: "http://127.0.0.1:8081", access: { basic_auth: false } }
  mir: { role: mirror, from: prod, lag: 1d, root: /srv/demo/mir, url: "http://127.0.0.1:8082", access: { basic_auth: false } }
`,
  '/repo/sitecycle.yml'
)
const { prod, pre, mir } = config.sites

/** The commit-file runs of `exec` as [path, mode, input]; and that nothing else wrote or renamed. */
function commits(exec: RecordingExecutor): [string, string, string][] {
  expect(exec.calls.filter(c => c.type === 'writeFile')).toEqual([])
  expect(exec.commands().filter(a => a[0] === 'mv')).toEqual([])
  return exec.calls
    .filter(c => c.type === 'run' && c.argv![4] === COMMIT_FILE_PROGRAM)
    .map(c => {
      expect(c.argv!.slice(0, 4)).toEqual([PY, '-I', '-S', '-c'])
      return [c.argv![5], c.argv![6], String(c.command!.input)] as [string, string, string]
    })
}

test("an attempt's move commits the record on both sites durably, then journals it", async () => {
  const prodExec = new RecordingExecutor()
  const preExec = new RecordingExecutor()
  const record: AttemptRecord = {
    id: 'attempt-1',
    preview: 'pre',
    production: 'prod',
    asked: { version: '1.2.0' },
    previousVersion: '1.1.0',
    phase: 'syncing',
    startedAt: '2026-12-07T10:00:00.000Z',
    updatedAt: '2026-12-07T10:00:00.000Z',
    productionWasFrozen: false,
    previewUrl: pre.url,
    productionUrl: prod.url,
    history: [{ phase: 'syncing', at: '2026-12-07T10:00:00.000Z', run: 'me@here' }]
  }
  const next = await moveAttempt(
    record,
    'deploying',
    {
      production: { site: prod, exec: prodExec, python: PY },
      preview: { site: pre, exec: preExec, python: PY }
    },
    'me@here'
  )
  expect(next.phase).toBe('deploying')
  for (const [exec, site] of [
    [prodExec, prod],
    [preExec, pre]
  ] as const) {
    expect(commits(exec)).toEqual([
      [attemptPath(site), '644', JSON.stringify(next, null, 2) + '\n']
    ])
    // The record is on disk before the journal says the phase changed.
    const runs = exec.commands().map(a => a.join(' '))
    const commit = runs.findIndex(r => r.includes(COMMIT_FILE_PROGRAM))
    const journal = runs.findIndex(r => r.includes('journal'))
    expect(journal).toBeGreaterThan(commit)
  }
})

test("a site's identity is committed durably; none is an unlink", async () => {
  const exec = new RecordingExecutor()
  const identity = newIdentity(pre, 'production', addressOf(prod), 'attempt-1')
  await writeIdentity(exec, pre, identity, PY)
  expect(commits(exec)).toEqual([
    [identityPath(pre), '644', JSON.stringify(identity, null, 2) + '\n']
  ])
  const removing = new RecordingExecutor()
  await writeIdentity(removing, pre, undefined, PY)
  expect(removing.commands()).toEqual([['rm', '-f', '--', identityPath(pre)]])
})

test("a mirror's state is committed durably", async () => {
  const exec = new RecordingExecutor()
  const state = {
    from: 'prod',
    snapshot: '20261206T030000Z',
    takenAt: '2026-12-06T03:00:00.000Z',
    refreshedAt: '2026-12-07T03:00:00.000Z',
    lag: '1d'
  }
  await writeMirrorState(exec, mir, state, PY)
  expect(commits(exec)).toEqual([
    [mirrorStatePath(mir), '640', JSON.stringify(state, null, 2) + '\n']
  ])
})
