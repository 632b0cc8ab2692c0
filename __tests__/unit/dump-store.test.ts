/**
 * The chain and retention logic of incremental database snapshots (dump-store.ts): which base a
 * new snapshot deltas against, which bases kept snapshots need, and what retention hides,
 * removes and drops. Simulated over many snapshots with a real retention policy, so a broken
 * rule shows up as a kept snapshot whose base is gone or a chain longer than MAX_DELTAS.
 */
import {
  memAvailable,
  chooseDeltaBase,
  MAX_DELTAS,
  storeRecord,
  neededBases,
  planRemoval,
  requireZstd,
  type DumpStore
} from '../../src/snapshots/dump-store.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { chooseRetained, snapshotIdFor } from '../../src/snapshots/retention.js'

const store = (base: string | null, depth: number): DumpStore => ({
  compression: 'zstd',
  base,
  depth,
  deltas: []
})

describe('chooseDeltaBase', () => {
  test('no previous, an older dump without store, or another engine: full', () => {
    expect(chooseDeltaBase(undefined, 'postgres', new Set())).toBeNull()
    expect(chooseDeltaBase({ id: 'a', engine: 'postgres' }, 'postgres', new Set(['a']))).toBeNull()
    expect(
      chooseDeltaBase(
        { id: 'a', engine: 'mysql', store: store(null, 0) },
        'postgres',
        new Set(['a'])
      )
    ).toBeNull()
  })

  test('after a full snapshot: a delta against it, depth 1', () => {
    expect(
      chooseDeltaBase(
        { id: 'a', engine: 'postgres', store: store(null, 0) },
        'postgres',
        new Set(['a'])
      )
    ).toEqual({ base: 'a', depth: 1 })
  })

  test('after a delta: against the same base (not the previous one), one deeper', () => {
    expect(
      chooseDeltaBase(
        { id: 'c', engine: 'postgres', store: store('a', 2) },
        'postgres',
        new Set(['a', 'c'])
      )
    ).toEqual({ base: 'a', depth: 3 })
  })

  test('a chain at MAX_DELTAS deltas ends: the next is full, however small the deltas', () => {
    expect(
      chooseDeltaBase(
        { id: 'g', engine: 'postgres', store: store('a', MAX_DELTAS) },
        'postgres',
        new Set(['a', 'g'])
      )
    ).toBeNull()
  })

  test('a base retention would not keep now (or already hidden) gives a full snapshot', () => {
    expect(
      chooseDeltaBase(
        { id: 'c', engine: 'postgres', store: store('a', 2) },
        'postgres',
        new Set(['c'])
      )
    ).toBeNull()
  })
})

describe('chains end when their deltas outweigh the base', () => {
  const sized = (s: DumpStore, baseBytes: number, chainBytes: number): DumpStore => ({
    ...s,
    baseBytes,
    chainBytes
  })
  test('a delta while the deltas, with one more as large as the last, weigh at most the base', () => {
    const prev = {
      id: 'c',
      engine: 'postgres',
      store: sized(store('a', 2), 100, 30),
      size: 20
    }
    expect(chooseDeltaBase(prev, 'postgres', new Set(['a', 'c']))).toEqual({ base: 'a', depth: 3 })
    expect(chooseDeltaBase({ ...prev, size: 71 }, 'postgres', new Set(['a', 'c']))).toBeNull()
    expect(
      chooseDeltaBase(
        { ...prev, store: sized(store('a', 2), 100, 81) },
        'postgres',
        new Set(['a', 'c'])
      )
    ).toBeNull()
  })

  test('storeRecord carries the base and adds each delta to the chain; a full one starts afresh', () => {
    const full = storeRecord(null, undefined, [], 1000)
    expect(full).toMatchObject({ base: null, depth: 0, baseBytes: 1000, chainBytes: 0 })
    const d1 = storeRecord({ base: 'a', depth: 1 }, full, ['1.dat.zst'], 10)
    expect(d1).toMatchObject({ base: 'a', depth: 1, baseBytes: 1000, chainBytes: 10 })
    const d2 = storeRecord({ base: 'a', depth: 2 }, d1, ['1.dat.zst'], 25)
    expect(d2).toMatchObject({ baseBytes: 1000, chainBytes: 35 })
    // An older manifest without sizes: the chain ends at the next snapshot.
    const old = storeRecord({ base: 'a', depth: 2 }, store('a', 1), [], 5)
    expect(
      chooseDeltaBase(
        { id: 'b', engine: 'postgres', store: old, size: 5 },
        'postgres',
        new Set(['a'])
      )
    ).toBeNull()
  })

  test("deltas that grow by a day's changes: chains near the length that costs least disk", () => {
    // Day k's delta holds k days of changes (d each); a chain of n deltas costs B + d n(n+1)/2,
    // least per snapshot near n = sqrt(2B/d): 16 for the benchmark's B = 124, d = 0.9.
    const B = 124
    const d = 0.9
    const lengths: number[] = []
    let prev: { id: string; engine: string; store: DumpStore; size: number } | undefined
    let n = 0
    for (let day = 0; day < 200; day++) {
      const id = `s${day}`
      const chosen = chooseDeltaBase(
        prev,
        'postgres',
        new Set(['s0', prev?.store.base ?? '', prev?.id ?? ''])
      )
      if (!chosen && day > 0) lengths.push(n)
      n = chosen ? chosen.depth : 0
      const bytes = chosen ? d * chosen.depth : B
      prev = {
        id,
        engine: 'postgres',
        store: storeRecord(chosen, prev?.store, [], bytes),
        size: bytes
      }
    }
    expect(lengths.length).toBeGreaterThan(5)
    for (const l of lengths) {
      expect(l).toBeGreaterThanOrEqual(14)
      expect(l).toBeLessThanOrEqual(17)
    }
  })
})

describe('neededBases and planRemoval', () => {
  test('a removed snapshot that a kept one needs is hidden; others removed; unneeded hidden bases dropped', () => {
    const kept = [
      { id: 'd', database: null },
      { id: 'e', database: { store: store('b', 3) } },
      { id: 'f', database: { store: store(null, 0) } }
    ] as unknown as Parameters<typeof neededBases>[0]
    const needed = neededBases(kept)
    expect([...needed]).toEqual(['b'])
    expect(planRemoval(['b', 'c'], ['a', 'b'], needed)).toEqual({
      hide: ['b'],
      remove: ['c'],
      dropHidden: ['a']
    })
  })
})

describe('a simulated year of snapshots under retention', () => {
  test.each([
    ['keep_last 3', { last: 3, daily: 0, weekly: 0, monthly: 0 }, 1],
    ['keep_last 1', { last: 1, daily: 0, weekly: 0, monthly: 0 }, 1],
    ['7 daily, 4 weekly, 3 monthly, three a day', { last: 2, daily: 7, weekly: 4, monthly: 3 }, 3]
  ])(
    '%s: every kept snapshot can be restored and needs at most one delta of depth <= MAX_DELTAS',
    (_n, policy, perDay) => {
      const stores = new Map<string, DumpStore>()
      let visible: string[] = []
      let hidden: string[] = []
      let previous: string | undefined
      const start = Date.UTC(2024, 0, 1, 3)
      for (let i = 0; i < 365 * perDay; i++) {
        const now = new Date(start + (i * 24 * 3600_000) / perDay)
        const id = snapshotIdFor(now)
        const kept = new Set(chooseRetained([...visible, id], policy, now).keep)
        const chosen = chooseDeltaBase(
          previous === undefined
            ? undefined
            : { id: previous, engine: 'postgres', store: stores.get(previous) },
          'postgres',
          kept
        )
        stores.set(id, store(chosen?.base ?? null, chosen?.depth ?? 0))
        visible.push(id)
        previous = id
        // applyRetention
        const decision = chooseRetained(visible, policy, now)
        const keep = visible.filter(v => !decision.remove.includes(v))
        const plan = planRemoval(
          decision.remove,
          hidden,
          neededBases(keep.map(k => ({ id: k, database: { store: stores.get(k) } })) as never)
        )
        visible = keep
        hidden = [...hidden.filter(h => !plan.dropHidden.includes(h)), ...plan.hide]
        for (const k of visible) {
          const s = stores.get(k)!
          expect(s.depth).toBeLessThanOrEqual(MAX_DELTAS)
          if (s.base) {
            expect(visible.includes(s.base) || hidden.includes(s.base)).toBe(true)
            expect(stores.get(s.base)!.base).toBeNull()
          }
        }
        // Hidden bases are only those still needed: they never pile up.
        for (const h of hidden) expect(visible.some(k => stores.get(k)!.base === h)).toBe(true)
      }
      const fulls = [...stores.values()].filter(s => s.base === null).length
      expect(fulls).toBeGreaterThanOrEqual(Math.floor(stores.size / (MAX_DELTAS + 1)))
      if (policy.last > 1 && perDay === 1) expect(fulls).toBeLessThan(stores.size / 2)
    }
  )
})

describe('requireZstd', () => {
  test('a host without zstd: an error naming the host and the package', async () => {
    const exec = new RecordingExecutor('ssh://deploy@db1').respond(argvStartsWith('zstd'), {
      code: 127,
      stderr: 'zstd: command not found'
    })
    await expect(requireZstd(exec)).rejects.toThrow(
      /zstd is not installed on ssh:\/\/deploy@db1: .*apt-get install zstd/
    )
  })
  test('a host with zstd: nothing', async () => {
    const exec = new RecordingExecutor().respond(argvStartsWith('zstd'), { code: 0 })
    await expect(requireZstd(exec)).resolves.toBeUndefined()
  })
})

describe('memAvailable', () => {
  test('reads MemAvailable of /proc/meminfo in bytes; none when it is not there', () => {
    expect(
      memAvailable('MemTotal:       24598616 kB\nMemFree:  1 kB\nMemAvailable:   23271212 kB\n')
    ).toBe(23271212 * 1024)
    expect(memAvailable('MemTotal: 1 kB\n')).toBeUndefined()
    expect(memAvailable(undefined)).toBeUndefined()
  })
})
