/**
 * watch: is the live site still what sitecycle installed? Every file of the live virtualenv
 * against the hashes in its wheels' RECORD files, the rendered config against the hash recorded
 * when it was rendered, and the links users are routed through against the journal. Read only,
 * no lock: it can run on a schedule beside anything else (an operation in progress is reported as
 * such, not as drift).
 */
import type { SiteConfig, SitecycleConfig } from '../config/model.js'
import { hostScript } from '../commands/python.js'
import type { Executor } from '../hosts/executor.js'
import { Journal } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import { SitecycleError } from '../util/errors.js'
import { expectedLiveFromJournal, type ExpectedLive } from './expected-live.js'
import { WATCH_PROGRAM } from './host-program.js'

/** How many paths of each kind (modified, added, removed) a report lists; counts are exact. */
export const WATCH_LIST_CAP = 200

export interface WatchRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  /** Most paths listed per kind (default {@link WATCH_LIST_CAP}). */
  cap?: number
}

/** One file that differs from its RECORD entry. */
export interface FileDrift {
  /** Path relative to the virtualenv, e.g. `lib/python3.11/site-packages/pkg/mod.py`. */
  path: string
  /** The distribution whose RECORD lists it (`name-version`), or `(venv)` for an interpreter link. */
  package: string
  /** `sha256=<urlsafe base64>` as recorded. */
  expected?: string
  /** The same for the file as it is now. */
  actual?: string
  /** Why it is reported when it is not a hash difference (unreadable, a relinked interpreter). */
  reason?: string
}

/** What watch found on one site. */
export interface WatchReport {
  site: string
  host: string
  root: string
  /** When the check ran (ISO 8601). */
  checkedAt: string
  /** True when anything differs from what sitecycle installed and recorded. */
  drifted: boolean
  /** One sentence per finding, for logs and the summary; empty when clean. */
  findings: string[]
  live: {
    /** The slot users are routed to (`current` in single mode); null when none. */
    slot: string | null
    /** The release directory the live link points at (null: none, or outside releases/). */
    release: string | null
    /** The live virtualenv on the host. */
    venv: string | null
    /** The version its release.json records. */
    version: string | null
  }
  links: {
    /** `ok`, `drifted`, or `unknown` while an operation is unfinished. */
    status: 'ok' | 'drifted' | 'unknown'
    expected: ExpectedLive
    /** Each link (blue, green or current): its raw target and the release it reaches. */
    slots: Record<string, { target: string; release: string | null } | null>
  }
  files: {
    /** `ok`, `drifted`, or `unchecked` (no live virtualenv). */
    status: 'ok' | 'drifted' | 'unchecked'
    /** Files whose hash was compared. */
    checked: number
    /** Installed distributions (`name-version`). */
    packages: string[]
    counts: { modified: number; added: number; removed: number }
    modified: FileDrift[]
    /** Paths relative to the virtualenv that no RECORD lists. */
    added: string[]
    removed: FileDrift[]
    /** Problems reading the records themselves (a dist-info without RECORD). */
    problems: string[]
  }
  config: {
    /**
     * `unchanged`; `modified` (its hash is not the one recorded when it was rendered); `missing`
     * (rendered once, gone now); `unrecorded` (installed before hashes were recorded: not judged);
     * `none` (the site renders no config).
     */
    status: 'unchanged' | 'modified' | 'missing' | 'unrecorded' | 'none'
    path: string | null
    expectedSha256: string | null
    actualSha256: string | null
  }
}

interface WatchFacts {
  liveMap: string | null
  links: Record<
    string,
    {
      target: string
      release: string | null
      resolved: string
      insideReleases: boolean
      isDir: boolean
      complete: boolean
    } | null
  >
  venv: string | null
  release: { version?: string; name?: string } | null
  files: {
    checked: number
    recorded: number
    packages: string[]
    counts: { modified: number; added: number; removed: number }
    modified: FileDrift[]
    added: string[]
    removed: FileDrift[]
  } | null
  config: { present: boolean; sha256: string | null; recorded: string | null } | null
  problems: string[]
}

/** Check the live site against its records and journal. Throws only when the host cannot be read. */
export async function watchSite(req: WatchRequest): Promise<WatchReport> {
  const { site, exec } = req
  const layout = siteLayout(site.root)
  const run = await exec.tryRun(
    hostScript(req.config.app.python, WATCH_PROGRAM, [
      site.root,
      site.apache.mode,
      String(req.cap ?? WATCH_LIST_CAP),
      JSON.stringify(
        Object.fromEntries(
          (site.shared ?? []).filter(e => e.link !== undefined).map(e => [e.link, e.absolute])
        )
      )
    ])
  )
  if (run.code !== 0)
    throw new SitecycleError(
      `watch could not read site ${site.name} at ${site.root} on ${exec.name}: ${run.stderr.trim().split('\n').slice(-3).join(' ')}`,
      'host'
    )
  const facts = JSON.parse(run.stdout) as WatchFacts
  const expected = expectedLiveFromJournal(await new Journal(exec, layout.journal).events())
  return judge(req, facts, expected)
}

/** Turn the host's facts and the journal's answer into a report (pure; exported for tests). */
export function judge(
  req: Pick<WatchRequest, 'site' | 'exec'>,
  facts: WatchFacts,
  expected: ExpectedLive
): WatchReport {
  const { site } = req
  const findings: string[] = []
  const single = site.apache.mode === 'single'
  const liveSlot = single
    ? 'current'
    : facts.liveMap === 'green' || facts.liveMap === 'blue'
      ? facts.liveMap
      : null
  const liveLink = facts.links[liveSlot ?? 'blue'] ?? null
  const actualLive = liveLink?.insideReleases && liveLink.isDir ? liveLink.release : null

  // Links against the journal.
  let linkStatus: WatchReport['links']['status'] = 'ok'
  if (!single && facts.liveMap !== null && liveSlot === null)
    findings.push(`live.map names slot ${facts.liveMap}, which is neither blue nor green`)
  for (const [name, l] of Object.entries(facts.links)) {
    if (!l) continue
    const what = single ? 'the current link' : `slot ${name}`
    if (!l.insideReleases)
      findings.push(`${what} points outside releases/: ${l.target} (${l.resolved})`)
    else if (!l.isDir) findings.push(`${what} points at ${l.target}, which does not exist`)
    else if (!l.complete && l.release !== '_empty')
      findings.push(
        `${what} points at ${l.release}, which has no release.json (not a complete release)`
      )
  }
  const recordedVersion = facts.release?.version
  if (actualLive && actualLive !== '_empty' && recordedVersion && recordedVersion !== actualLive)
    findings.push(
      `the live release directory ${actualLive} holds release.json of version ${recordedVersion}`
    )
  const expectedRelease = expected.version
  const shown = (v: string | null) => v ?? 'nothing'
  const liveName = liveLink?.release === '_empty' ? null : actualLive
  if (expected.status === 'unfinished') {
    linkStatus = 'unknown'
  } else if (expected.status === 'known' && expectedRelease !== liveName) {
    findings.push(
      `${single ? 'the current link' : `the live slot ${liveSlot ?? 'blue'}`} serves ${shown(liveName)}${liveLink && !liveLink.insideReleases ? ` (${liveLink.target})` : ''}, but the journal's last ${expected.operation} left ${shown(expectedRelease)} live`
    )
  } else if (expected.status === 'none' && liveName !== null) {
    findings.push(
      `the live slot serves ${liveName}, but the journal records no deploy that made any release live`
    )
  }
  if (findings.length) linkStatus = 'drifted'

  // Files against the RECORDs.
  const f = facts.files
  const files: WatchReport['files'] = {
    status: f ? 'ok' : 'unchecked',
    checked: f?.checked ?? 0,
    packages: f?.packages ?? [],
    counts: f?.counts ?? { modified: 0, added: 0, removed: 0 },
    modified: f?.modified ?? [],
    added: f?.added ?? [],
    removed: f?.removed ?? [],
    problems: facts.problems
  }
  if (f) {
    const c = f.counts
    for (const m of f.modified)
      findings.push(
        `modified: ${m.path} (${m.package})${m.reason ? `: ${m.reason}` : m.actual ? `: ${m.actual}, RECORD says ${m.expected}` : ''}`
      )
    if (c.modified > f.modified.length)
      findings.push(`... and ${c.modified - f.modified.length} more modified files`)
    for (const a of f.added) findings.push(`added: ${a} (in no RECORD)`)
    if (c.added > f.added.length)
      findings.push(`... and ${c.added - f.added.length} more added files`)
    for (const r of f.removed) findings.push(`removed: ${r.path} (${r.package})`)
    if (c.removed > f.removed.length)
      findings.push(`... and ${c.removed - f.removed.length} more removed files`)
    for (const p of facts.problems) findings.push(p)
    if (c.modified + c.added + c.removed + facts.problems.length > 0) files.status = 'drifted'
  } else if (expected.version !== null) {
    findings.push(`no live virtualenv to check: the live link does not reach a release directory`)
  }

  // The rendered config against its recorded hash.
  const cf = facts.config
  let config: WatchReport['config']
  const path = facts.venv && cf ? `${facts.venv}/app.ini` : null
  if (!cf || (!cf.present && !cf.recorded && !site.config)) {
    config = { status: 'none', path: null, expectedSha256: null, actualSha256: null }
  } else if (!cf.recorded) {
    config = { status: 'unrecorded', path, expectedSha256: null, actualSha256: cf.sha256 }
  } else if (!cf.present) {
    config = { status: 'missing', path, expectedSha256: cf.recorded, actualSha256: null }
    findings.push(`config: ${path} is missing (it was rendered at deploy time)`)
  } else if (cf.sha256 !== cf.recorded) {
    config = { status: 'modified', path, expectedSha256: cf.recorded, actualSha256: cf.sha256 }
    findings.push(
      `config: ${path} was changed after it was rendered (sha256 ${cf.sha256}, rendered ${cf.recorded})`
    )
  } else {
    config = { status: 'unchanged', path, expectedSha256: cf.recorded, actualSha256: cf.sha256 }
  }

  return {
    site: site.name,
    host: req.exec.name,
    root: site.root,
    checkedAt: new Date().toISOString(),
    drifted: findings.length > 0,
    findings,
    live: {
      slot: liveSlot,
      release: liveName,
      venv: facts.venv,
      version: typeof facts.release?.version === 'string' ? facts.release.version : null
    },
    links: {
      status: linkStatus,
      expected,
      slots: Object.fromEntries(
        Object.entries(facts.links).map(([k, l]) => [
          k,
          l ? { target: l.target, release: l.release } : null
        ])
      )
    },
    files,
    config
  }
}

export type { WatchFacts }
