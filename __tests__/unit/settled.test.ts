import { eachBounded } from '../../src/util/settled.js'

/** A piece of work that ends when the test says so, recording when it starts. */
function gate() {
  let open!: () => void
  let fail!: (e: Error) => void
  const done = new Promise<void>((resolve, reject) => {
    open = resolve
    fail = reject
  })
  return { done, open, fail }
}

/** Let pending promise callbacks run. */
const settle = () => new Promise(resolve => setImmediate(resolve))

describe('eachBounded', () => {
  test('runs at most `limit` pieces at once, starts the next as one ends, returns results in the items order', async () => {
    const gates = [gate(), gate(), gate(), gate()]
    const started: number[] = []
    let running = 0
    let most = 0
    const all = eachBounded([10, 20, 30, 40], 2, async (item, i) => {
      started.push(i)
      most = Math.max(most, ++running)
      await gates[i].done
      running--
      return item + i
    })
    await settle()
    expect(started).toEqual([0, 1])
    gates[1].open()
    await settle()
    expect(started).toEqual([0, 1, 2])
    gates[2].open()
    gates[3].open()
    await settle()
    expect(started).toEqual([0, 1, 2, 3])
    gates[0].open()
    expect(await all).toEqual([10, 21, 32, 43])
    expect(most).toBe(2)
  })

  test('after a failure starts nothing more, waits for the pieces still running, then throws the failure', async () => {
    const gates = [gate(), gate(), gate()]
    const started: number[] = []
    let ended = 0
    let thrown: unknown
    const all = eachBounded([0, 1, 2], 2, async (_item, i) => {
      started.push(i)
      try {
        await gates[i].done
      } finally {
        ended++
      }
    }).catch(e => (thrown = e))
    await settle()
    gates[1].fail(new Error('piece 1 failed'))
    await settle()
    expect(thrown).toBeUndefined()
    expect(started).toEqual([0, 1])
    gates[0].open()
    await all
    expect((thrown as Error).message).toBe('piece 1 failed')
    expect(started).toEqual([0, 1])
    expect(ended).toBe(2)
  })

  test('no items: no work, an empty result', async () => {
    expect(await eachBounded([], 2, async () => 1)).toEqual([])
  })
})
