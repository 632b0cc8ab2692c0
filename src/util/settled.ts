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
