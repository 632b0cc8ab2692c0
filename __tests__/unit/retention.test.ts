import {
  chooseRetained,
  mirrorBucketSeconds,
  retentionHorizonSeconds,
  isoWeekKey,
  parseSnapshotId,
  snapshotIdFor
} from '../../src/snapshots/retention.js'

/** One snapshot a day at 03:00 UTC, from `first` for `days` days. */
function daily(first: string, days: number, hour = 3): string[] {
  const start = new Date(`${first}T00:00:00Z`).getTime()
  return Array.from({ length: days }, (_, i) =>
    snapshotIdFor(new Date(start + i * 86400000 + hour * 3600000))
  )
}

const id = (day: string, time = '030000') => `${day.replace(/-/g, '')}T${time}Z`

describe('snapshot ids', () => {
  test('are UTC timestamps that sort as they read and parse back', () => {
    const when = new Date('2024-03-05T07:08:09.123Z')
    expect(snapshotIdFor(when)).toBe('20240305T070809Z')
    expect(snapshotIdFor(when, 2)).toBe('20240305T070809Z-2')
    expect(parseSnapshotId('20240305T070809Z')?.toISOString()).toBe('2024-03-05T07:08:09.000Z')
    expect(parseSnapshotId('20240305T070809Z-2')?.toISOString()).toBe('2024-03-05T07:08:09.000Z')
  })
  test('anything else is not an id', () => {
    for (const bad of ['20240231T000000Z', '2024-03-05', 'latest', '20240305T070809', '.tmp'])
      expect(parseSnapshotId(bad)).toBeUndefined()
  })
  test('ISO weeks start on Monday and belong to the year of their Thursday', () => {
    expect(isoWeekKey(new Date('2024-03-24T12:00:00Z'))).toBe('2024-W12') // Sunday
    expect(isoWeekKey(new Date('2024-03-25T00:00:00Z'))).toBe('2024-W13') // Monday
    expect(isoWeekKey(new Date('2021-01-03T00:00:00Z'))).toBe('2020-W53')
    expect(isoWeekKey(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01')
  })
})

describe('retention with a fake clock', () => {
  // 2024-01-01 .. 2024-03-30 (2024 is a leap year: 31 + 29 + 30 = 90 days).
  const ninety = daily('2024-01-01', 90)
  const now = new Date('2024-03-30T04:00:00Z') // a Saturday, an hour after the last snapshot

  test('90 daily snapshots leave exactly the ones the policy names', () => {
    expect(ninety).toHaveLength(90)
    expect(ninety[89]).toBe(id('2024-03-30'))
    const d = chooseRetained(ninety, { last: 3, daily: 7, weekly: 4, monthly: 3 }, now)
    expect(d.keep).toEqual([
      // daily: the last 7 days (which hold the last 3 as well)
      id('2024-03-30'),
      id('2024-03-29'),
      id('2024-03-28'),
      id('2024-03-27'),
      id('2024-03-26'),
      id('2024-03-25'),
      id('2024-03-24'), // also the newest of ISO week 12
      id('2024-03-17'), // weekly: Sunday of week 11
      id('2024-03-10'), // weekly: Sunday of week 10
      id('2024-02-29'), // monthly: February
      id('2024-01-31') // monthly: January
    ])
    expect(d.remove).toHaveLength(90 - 11)
    expect(new Set([...d.keep, ...d.remove]).size).toBe(90)
    expect(d.reasons[id('2024-03-30')]).toEqual([
      'last',
      'daily 2024-03-30',
      'weekly 2024-W13',
      'monthly 2024-03'
    ])
    expect(d.reasons[id('2024-02-29')]).toEqual(['monthly 2024-02'])
  })

  test('keep_last alone keeps the newest N and removes the rest', () => {
    const d = chooseRetained(ninety, { last: 5, daily: 0, weekly: 0, monthly: 0 }, now)
    expect(d.keep).toEqual(ninety.slice(-5).reverse())
  })

  test('a day with several snapshots keeps its newest only', () => {
    const ids = [id('2024-03-29', '010000'), id('2024-03-29', '230000'), id('2024-03-30', '010000')]
    const d = chooseRetained(ids, { last: 1, daily: 7, weekly: 0, monthly: 0 }, now)
    expect(d.keep).toEqual([id('2024-03-30', '010000'), id('2024-03-29', '230000')])
    expect(d.remove).toEqual([id('2024-03-29', '010000')])
  })

  test('a gap: the days, weeks and months without snapshots keep nothing older instead', () => {
    // Nothing between 2024-03-01 and 2024-03-27.
    const ids = [...daily('2024-02-01', 29), ...daily('2024-03-28', 3)]
    const d = chooseRetained(ids, { last: 1, daily: 7, weekly: 2, monthly: 2 }, now)
    expect(d.keep).toEqual([id('2024-03-30'), id('2024-03-29'), id('2024-03-28'), id('2024-02-29')])
  })

  test('the newest snapshot is kept even by a policy that keeps nothing, and a future one too', () => {
    const ids = [id('2023-01-01'), id('2023-06-01'), id('2024-04-02')]
    const d = chooseRetained(ids, { last: 0, daily: 0, weekly: 0, monthly: 0 }, now)
    expect(d.keep).toEqual([id('2024-04-02')])
    const past = chooseRetained(ids.slice(0, 2), { last: 0, daily: 0, weekly: 0, monthly: 0 }, now)
    expect(past.keep).toEqual([id('2023-06-01')])
    expect(past.remove).toEqual([id('2023-01-01')])
  })

  test('names that are not snapshot ids are neither kept nor removed', () => {
    const d = chooseRetained(
      ['lost+found', ...ninety.slice(-2)],
      { last: 1, daily: 0, weekly: 0, monthly: 0 },
      now
    )
    expect(d.keep).toEqual([ninety[89]])
    expect(d.remove).toEqual([ninety[88]])
  })
})

describe('retention keeps what mirrors need', () => {
  const DAY = 86_400_000
  const mirrors = [
    { name: 'm1', lag: '1d', lagSeconds: 86_400 },
    { name: 'm7', lag: '7d', lagSeconds: 7 * 86_400 },
    { name: 'm30', lag: '30d', lagSeconds: 30 * 86_400 }
  ]
  // The README's policy, daily backups at 03:00 and a sync every hour in between (4 a day).
  const policy = { last: 3, daily: 7, weekly: 4, monthly: 6 }
  const withSyncs = (first: string, days: number) =>
    [3, 9, 15, 21].flatMap(h => daily(first, days, h)).sort()

  test('without mirrors, the syncs push every snapshot of 7 days ago out', () => {
    const ids = withSyncs('2024-01-01', 90)
    const now = new Date('2024-03-30T22:00:00Z')
    const d = chooseRetained(ids, policy, now)
    const cutoff = now.getTime() - 7 * DAY
    const best = d.keep.find(k => parseSnapshotId(k)!.getTime() <= cutoff)!
    // The newest kept snapshot at least 7 days old is a weekly one, days older than promised.
    expect((now.getTime() - parseSnapshotId(best)!.getTime()) / DAY).toBeGreaterThan(8)
  })

  test('a 7d and a 30d mirror, refreshed at any hour over 60 days, show data less than a day older than their lag', () => {
    // Run retention after every snapshot, as the snapshot pipeline does, and refresh the mirrors
    // at every hour: what they show is never more than a day older than the lag.
    let kept: string[] = []
    const start = new Date('2024-01-01T00:00:00Z').getTime()
    const worst: Record<string, number> = { m1: 0, m7: 0, m30: 0 }
    for (let hour = 0; hour < 24 * 60; hour++) {
      const now = new Date(start + hour * 3_600_000)
      if ([3, 9, 15, 21].includes(now.getUTCHours())) {
        kept = chooseRetained([...kept, snapshotIdFor(now)], { ...policy, mirrors }, now).keep
      }
      for (const m of mirrors) {
        if (hour < 24 * 31 + m.lagSeconds / 3600) continue // the history must be that old first
        const shown = kept
          .map(k => parseSnapshotId(k)!.getTime())
          .filter(t => t <= now.getTime() - m.lagSeconds * 1000)
          .sort((a, b) => b - a)[0]
        worst[m.name] = Math.max(worst[m.name], now.getTime() - shown - m.lagSeconds * 1000)
      }
    }
    // A 1d mirror's buckets are 3 hours: the 6 hours between snapshots are what it is off by.
    expect(worst.m1).toBeLessThanOrEqual(6 * 3_600_000)
    expect(worst.m7).toBeLessThan(DAY)
    expect(worst.m30).toBeLessThan(DAY)
    // ... at the cost of one snapshot a day over the longest lag, not one per sync.
    expect(kept.length).toBeLessThanOrEqual(31 + 4 + 6 + 4 + 4)
  })

  test('the snapshot a mirror shows now and the newest of each day since are kept, with why', () => {
    const ids = withSyncs('2024-03-01', 30)
    const now = new Date('2024-03-30T22:00:00Z')
    const d = chooseRetained(
      ids,
      { last: 1, daily: 0, weekly: 0, monthly: 0, mirrors: [mirrors[1]] },
      now
    )
    expect(d.reasons[id('2024-03-23', '210000')]).toEqual(['mirror m7 (7d) shows it'])
    expect(d.reasons[id('2024-03-24', '210000')]).toEqual(['mirror m7 (7d) will show it'])
    expect(d.keep).toHaveLength(8)
    expect(d.keep.at(-1)).toBe(id('2024-03-23', '210000'))
  })

  test("a mirror's buckets: a day from a week of lag, else an eighth of the lag in whole hours", () => {
    expect(mirrorBucketSeconds(30 * 86_400)).toBe(86_400)
    expect(mirrorBucketSeconds(7 * 86_400)).toBe(86_400)
    expect(mirrorBucketSeconds(86_400)).toBe(3 * 3600)
    expect(mirrorBucketSeconds(12 * 3600)).toBe(3600)
    expect(mirrorBucketSeconds(600)).toBe(3600)
  })

  test("a policy's horizon: how far back it surely holds a snapshot", () => {
    expect(retentionHorizonSeconds({ last: 3, daily: 7, weekly: 4, monthly: 6 })).toBe(
      5 * 28 * 86_400
    )
    expect(retentionHorizonSeconds({ last: 3, daily: 8, weekly: 0, monthly: 0 })).toBe(7 * 86_400)
    expect(retentionHorizonSeconds({ last: 90, daily: 0, weekly: 0, monthly: 0 })).toBe(0)
  })
})
