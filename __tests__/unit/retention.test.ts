import {
  chooseRetained,
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
