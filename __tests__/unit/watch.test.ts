import { describe, expect, it } from '@jest/globals'
import { parseConfig } from '../../src/config/load-config.js'
import type { JournalEvent } from '../../src/sites/journal.js'
import { expectedLiveFromJournal } from '../../src/watch/expected-live.js'
import { judge, type WatchFacts } from '../../src/watch/watch.js'
import { formatWatchText, renderWatchMarkdown } from '../../src/watch/watch-report.js'

const ev = (
  id: string,
  op: string,
  event: JournalEvent['event'],
  extra: object = {}
): JournalEvent => ({
  id,
  op,
  event,
  at: 't',
  ...extra
})

describe('what the journal says should be live', () => {
  it('is what the last ended deploy or rollback left, failures included', () => {
    expect(expectedLiveFromJournal([])).toEqual({ status: 'none', version: null })
    const events = [
      ev('1', 'deploy', 'start'),
      ev('1', 'deploy', 'end', { status: 'deployed', live: '1.0' }),
      ev('2', 'deploy', 'start'),
      ev('2', 'deploy', 'end', { status: 'deployed', live: '2.0' }),
      ev('3', 'maintenance', 'start'),
      ev('3', 'maintenance', 'end', { status: 'frozen', frozen: true }),
      ev('4', 'deploy', 'start'),
      ev('4', 'deploy', 'end', { status: 'rolled-back', live: '2.0', error: 'x' }),
      ev('5', 'rollback', 'start'),
      ev('5', 'rollback', 'end', { status: 'rolled-back', live: '1.0' })
    ]
    expect(expectedLiveFromJournal(events)).toEqual({
      status: 'known',
      version: '1.0',
      operation: 'rollback 5'
    })
  })

  it('is unknown while an operation has started and not ended; a recovered one is over', () => {
    const base = [ev('1', 'deploy', 'start'), ev('1', 'deploy', 'end', { live: '1.0' })]
    expect(expectedLiveFromJournal([...base, ev('2', 'deploy', 'start')])).toEqual({
      status: 'unfinished',
      version: '1.0',
      operation: 'deploy 2'
    })
    expect(
      expectedLiveFromJournal([...base, ev('2', 'deploy', 'start'), ev('2', 'deploy', 'recovered')])
        .status
    ).toBe('known')
  })
})

const config = parseConfig(
  `app: { package: demo, wsgi: 'demo:app' }
sites:
  v1:
    host: local
    root: /srv/v1
    url: http://127.0.0.1:1
    apache: { listen: '127.0.0.1:1' }
`,
  '/tmp/sitecycle.yml'
)
const link = (release: string, extra: object = {}) => ({
  target: `../releases/${release}`,
  release,
  resolved: `/srv/v1/releases/${release}`,
  insideReleases: true,
  isDir: true,
  complete: true,
  ...extra
})
const facts = (over: Partial<WatchFacts> = {}): WatchFacts => ({
  liveMap: 'green',
  links: { blue: link('1.0'), green: link('2.0') },
  venv: '/srv/v1/releases/2.0',
  release: { version: '2.0' },
  files: {
    checked: 10,
    recorded: 12,
    packages: ['demo-2.0'],
    counts: { modified: 0, added: 0, removed: 0 },
    modified: [],
    added: [],
    removed: []
  },
  config: { present: true, sha256: 'aa', recorded: 'aa' },
  problems: [],
  ...over
})
const known = (version: string | null) => ({
  status: 'known' as const,
  version,
  operation: 'deploy 7'
})
const req = { site: config.sites.v1, exec: { name: 'local' } as never }

describe('judging the facts', () => {
  it('clean when the live slot serves what the journal says and every record matches', () => {
    const r = judge(req, facts(), known('2.0'))
    expect(r.findings).toEqual([])
    expect(r).toMatchObject({
      drifted: false,
      live: { slot: 'green', release: '2.0', version: '2.0' },
      links: { status: 'ok' },
      config: { status: 'unchanged' }
    })
    expect(formatWatchText(r)).toContain('is as installed: 10 files in 1 packages')
  })

  it('a live slot serving another release than the journal says is drift', () => {
    const r = judge(req, facts({ liveMap: 'blue' }), known('2.0'))
    expect(r.links.status).toBe('drifted')
    expect(r.findings).toEqual([
      'the live release directory 1.0 holds release.json of version 2.0',
      "the live slot blue serves 1.0, but the journal's last deploy 7 left 2.0 live"
    ])
  })

  it('links outside releases/, to nothing, or to an incomplete release are named', () => {
    const r = judge(
      req,
      facts({
        links: {
          blue: link('x', { target: '/opt/evil', resolved: '/opt/evil', insideReleases: false }),
          green: link('3.0', { complete: false })
        },
        release: { version: '3.0' }
      }),
      known('3.0')
    )
    expect(r.findings).toEqual([
      'slot blue points outside releases/: /opt/evil (/opt/evil)',
      'slot green points at 3.0, which has no release.json (not a complete release)'
    ])
    expect(r.drifted).toBe(true)
  })

  it('an unfinished operation makes the links unknown, not drift', () => {
    const r = judge(req, facts({ liveMap: 'blue', release: { version: '1.0' } }), {
      status: 'unfinished',
      version: '2.0',
      operation: 'deploy 8'
    })
    expect(r.links.status).toBe('unknown')
    expect(r.drifted).toBe(false)
    expect(renderWatchMarkdown(r)).toContain('deploy 8 is unfinished')
  })

  it('files and config findings, capped listings with their counts', () => {
    const r = judge(
      req,
      facts({
        files: {
          ...facts().files!,
          counts: { modified: 1, added: 3, removed: 0 },
          modified: [
            { path: 'a.py', package: 'demo-2.0', expected: 'sha256=x', actual: 'sha256=y' }
          ],
          added: ['b.py']
        },
        config: { present: true, sha256: 'bb', recorded: 'aa' }
      }),
      known('2.0')
    )
    expect(r.findings).toEqual([
      'modified: a.py (demo-2.0): sha256=y, RECORD says sha256=x',
      'added: b.py (in no RECORD)',
      '... and 2 more added files',
      'config: /srv/v1/releases/2.0/app.ini was changed after it was rendered (sha256 bb, rendered aa)'
    ])
    expect(r.files.status).toBe('drifted')
    expect(r.config.status).toBe('modified')
  })
})
