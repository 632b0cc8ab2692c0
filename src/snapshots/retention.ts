/**
 * Which snapshots to keep: grandfather-father-son retention. Pure: takes snapshot ids and "now",
 * touches nothing. Calendar buckets are UTC days, ISO weeks and months counted back from now:
 * `daily: 7` keeps the newest snapshot of each of the last 7 days (today included) that has one.
 *
 * Mirrors (role `mirror`, `from:` this site) add their own needs, whatever the counts above and
 * however many snapshots syncs and attempts add: a mirror with lag L refreshed at any time in the
 * next L shows the newest snapshot at least L old, so the site keeps for it the snapshot it shows
 * now (the newest at least L old) and the newest snapshot of each bucket of the last L: UTC days
 * for a lag of a week or more, else an eighth of the lag in whole hours (mirrorBucketSeconds).
 * With a snapshot in every bucket, a `7d` mirror thus always shows data at least 7 days and less
 * than 8 days old, a `1d` one less than 1 day 3 hours old.
 * The policy's horizon (retentionHorizonSeconds) bounds the lag a mirror may ask for: beyond it,
 * the policy says the data must be gone (the config loader refuses such a pair).
 */

/** How many snapshots a site keeps (`sites.<n>.snapshots`). */
export interface RetentionPolicy {
  /** The newest N snapshots, whatever their age. */
  last: number
  /** The newest snapshot of each of the last N days. */
  daily: number
  /** The newest snapshot of each of the last N ISO weeks. */
  weekly: number
  /** The newest snapshot of each of the last N months. */
  monthly: number
  /** The mirrors that show this site's snapshots (their needs are kept too). */
  mirrors?: MirrorNeed[]
}

/** A mirror of the site, as retention sees it. */
export interface MirrorNeed {
  /** The mirror's site name (for the reasons). */
  name: string
  /** Its lag in seconds. */
  lagSeconds: number
  /** Its lag as written (for the reasons), such as `7d`. */
  lag: string
}

const HOUR = 3600
const DAY = 24 * HOUR

/**
 * How far back the policy is sure to hold a snapshot, in seconds: `daily: d` holds days back to
 * d-1 days before today's start, `weekly: w` w-1 weeks, `monthly: m` m-1 months (counted as 28
 * days, the shortest). `keep_last` gives no such promise (N snapshots may all be from today).
 * A mirror's lag may not exceed it. Pure.
 */
export function retentionHorizonSeconds(policy: RetentionPolicy): number {
  return Math.max(
    0,
    (policy.daily - 1) * DAY,
    (policy.weekly - 1) * 7 * DAY,
    (policy.monthly - 1) * 28 * DAY
  )
}

/**
 * The width of the buckets retention keeps one snapshot of for a mirror (the newest): a UTC day
 * for a lag of a week or more, else an eighth of the lag in whole hours (at least one). A mirror
 * then shows data less than its lag plus one bucket old (with a snapshot in every bucket). Pure.
 */
export function mirrorBucketSeconds(lagSeconds: number): number {
  if (lagSeconds >= 7 * DAY) return DAY
  return Math.max(HOUR, Math.floor(lagSeconds / 8 / HOUR) * HOUR)
}

/** The snapshots a mirror needs at `now` (newest first sorted ids in), with why. Pure. */
function mirrorKeeps(sorted: readonly string[], m: MirrorNeed, now: Date): Map<string, string> {
  const kept = new Map<string, string>()
  const cutoff = now.getTime() - m.lagSeconds * 1000
  const shown = sorted.find(id => parseSnapshotId(id)!.getTime() <= cutoff)
  if (shown) kept.set(shown, `mirror ${m.name} (${m.lag}) shows it`)
  const bucket = mirrorBucketSeconds(m.lagSeconds) * 1000
  const seen = new Set<number>()
  for (const id of sorted) {
    const t = parseSnapshotId(id)!.getTime()
    if (t > now.getTime()) continue
    const key = Math.floor(t / bucket)
    // Buckets from the one holding now - lag up to now: each bucket's newest may be shown later.
    if (key < Math.floor(cutoff / bucket) || seen.has(key)) continue
    seen.add(key)
    if (!kept.has(id)) kept.set(id, `mirror ${m.name} (${m.lag}) will show it`)
  }
  return kept
}

/** What retention decided, and why each kept snapshot is kept. */
export interface RetentionDecision {
  /** Ids kept, newest first. */
  keep: string[]
  /** Ids to remove, newest first. */
  remove: string[]
  /** For each kept id: the rules that keep it (`last`, `daily 2024-03-15`, `weekly 2024-W11` ...). */
  reasons: Record<string, string[]>
}

const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(\d+))?$/

/** A snapshot id for a moment: `20240315T030000Z` (UTC, sortable, safe in paths). */
export function snapshotIdFor(when: Date, sequence = 0): string {
  const base = when
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return sequence > 0 ? `${base}-${sequence}` : base
}

/** The moment a snapshot id names, or undefined when the name is not a snapshot id. */
export function parseSnapshotId(id: string): Date | undefined {
  const m = ID.exec(id)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number)
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  // Reject 20240231T...: Date.UTC rolls it over into March.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined
  return date
}

/** Whether a directory name is a snapshot id. */
export function isSnapshotId(name: string): boolean {
  return parseSnapshotId(name) !== undefined
}

/** Newest first: by time, then by sequence number. */
function compareNewestFirst(a: string, b: string): number {
  const ta = parseSnapshotId(a)!.getTime()
  const tb = parseSnapshotId(b)!.getTime()
  if (ta !== tb) return tb - ta
  return sequenceOf(b) - sequenceOf(a)
}

function sequenceOf(id: string): number {
  return Number(ID.exec(id)?.[7] ?? 0)
}

/** `2024-03-15` */
export function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10)
}

/** `2024-03` */
export function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7)
}

/** ISO 8601 week: `2024-W11` (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  const weekday = t.getUTCDay() || 7
  t.setUTCDate(t.getUTCDate() + 4 - weekday) // the Thursday of this week decides the year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1)
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7)
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}

/** The last `n` bucket keys counted back from `now`, today's (this week's, month's) first. */
function recentKeys(now: Date, n: number, unit: 'day' | 'week' | 'month'): Set<string> {
  const keys = new Set<string>()
  for (let i = 0; i < n; i++) {
    if (unit === 'month') {
      keys.add(monthKey(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1))))
    } else {
      const step = unit === 'day' ? 1 : 7
      const d = new Date(
        Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - i * step)
      )
      keys.add(unit === 'day' ? dayKey(d) : isoWeekKey(d))
    }
  }
  return keys
}

/**
 * Decide which snapshots to keep. Ids that are not snapshot ids are ignored (neither kept nor
 * removed); snapshots dated after `now` (a clock that went back) are kept. The newest snapshot is
 * always kept, whatever the policy.
 */
export function chooseRetained(
  ids: readonly string[],
  policy: RetentionPolicy,
  now: Date
): RetentionDecision {
  const sorted = [...new Set(ids)].filter(isSnapshotId).sort(compareNewestFirst)
  const reasons: Record<string, string[]> = {}
  const keep = (id: string, why: string) => (reasons[id] ??= []).push(why)

  sorted.slice(0, Math.max(1, policy.last)).forEach(id => keep(id, 'last'))
  for (const id of sorted) if (parseSnapshotId(id)!.getTime() > now.getTime()) keep(id, 'future')

  const buckets: [number, 'day' | 'week' | 'month', string, (d: Date) => string][] = [
    [policy.daily, 'day', 'daily', dayKey],
    [policy.weekly, 'week', 'weekly', isoWeekKey],
    [policy.monthly, 'month', 'monthly', monthKey]
  ]
  for (const m of policy.mirrors ?? [])
    for (const [id, why] of mirrorKeeps(sorted, m, now)) keep(id, why)
  for (const [n, unit, label, keyOf] of buckets) {
    if (n <= 0) continue
    const wanted = recentKeys(now, n, unit)
    const seen = new Set<string>()
    for (const id of sorted) {
      const key = keyOf(parseSnapshotId(id)!)
      if (!wanted.has(key) || seen.has(key)) continue
      seen.add(key) // sorted newest first: the first of a bucket is its newest
      keep(id, `${label} ${key}`)
    }
  }
  return {
    keep: sorted.filter(id => reasons[id]),
    remove: sorted.filter(id => !reasons[id]),
    reasons
  }
}
