/**
 * Run two pieces of work at once and wait for both to end, whatever either does; then return
 * both results, or throw the first failure. Unlike Promise.all, a failure never leaves the other
 * piece running behind the caller's back (an undo must not race a restore still at work).
 */
export async function bothSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b])
  if (ra.status === 'rejected') throw ra.reason
  if (rb.status === 'rejected') throw rb.reason
  return [ra.value, rb.value]
}

/**
 * `work` on each of `items`, at most `limit` at once (each started as soon as one ends); waits
 * for every started piece to end, whatever any does, then returns the results in the items'
 * order or throws the first failure (in the items' order). After a failure no further piece
 * starts. As {@link bothSettled}, nothing is left running behind the caller's back.
 */
export async function eachBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const results: PromiseSettledResult<R>[] = []
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++
      try {
        results[i] = { status: 'fulfilled', value: await work(items[i], i) }
      } catch (reason) {
        results[i] = { status: 'rejected', reason }
        failed = true
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  for (const r of results) if (r?.status === 'rejected') throw r.reason
  return results.map(r => (r as PromiseFulfilledResult<R>).value)
}
