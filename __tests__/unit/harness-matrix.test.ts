/**
 * Matrix legs run side by side, as on GitHub. Documented behaviour imitated (docs.github.com,
 * "Running variations of jobs in a workflow"):
 * - `jobs.<job_id>.strategy.max-parallel`: "the maximum number of jobs that can run
 *   simultaneously when using a matrix job strategy. By default, GitHub will maximize the
 *   number of jobs run in parallel".
 * - `jobs.<job_id>.strategy.fail-fast` (default true): "If fail-fast is set to true, or its
 *   expression evaluates to true, GitHub will cancel all in-progress and queued jobs in the
 *   matrix if any job in the matrix fails."
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

/** Wait (at most 60 s, a deadlock guard) until `dir` holds at least `n` entries. */
const WAIT_FOR = `
wait_for() { for _ in $(seq 600); do [ "$(ls "$1" | wc -l)" -ge "$2" ] && return 0; sleep 0.1; done; echo "gave up waiting for $2 in $1"; return 1; }
`

describe('matrix legs', () => {
  it('runs the legs side by side, never more than max-parallel at once', async () => {
    const mark = await scratch.repo({ 'started/.keep': '', 'running/.keep': '' })
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': `
on: push
jobs:
  leg:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 2
      matrix:
        n: [1, 2, 3, 4]
    steps:
      - env:
          N: \${{ matrix.n }}
        run: |
          ${WAIT_FOR.trim()}
          touch "$MARK/running/$N" "$MARK/started/$N"
          running=$(ls "$MARK/running" | wc -l)
          echo "leg $N sees $running running"
          test "$running" -le 2
          # legs 1 and 2 meet each other, then legs 3 and 4: only side by side can they.
          wait_for "$MARK/started" $(( N <= 2 ? 2 : 4 ))
          rm "$MARK/running/$N"
`
      },
      {},
      { env: { MARK: mark } }
    )
    expect(run.jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'leg (1):success',
      'leg (2):success',
      'leg (3):success',
      'leg (4):success'
    ])
  })

  const FAIL_FAST = (failFast: string, goodLeg = 'sleep 600 & wait') => `
on: push
jobs:
  leg:
    runs-on: ubuntu-latest
    strategy:
      ${failFast}
      matrix:
        host: [bad, good1, good2]
    steps:
      - env:
          HOST: \${{ matrix.host }}
        run: |
          ${WAIT_FOR.trim()}
          touch "$MARK/started/$HOST"
          if [ "$HOST" = bad ]; then
            wait_for "$MARK/started" 3
            touch "$MARK/failed/bad"
            exit 1
          fi
          ${goodLeg}
      - if: cancelled()
        env:
          HOST: \${{ matrix.host }}
        run: touch "$MARK/cleaned/$HOST"
`

  it('fail-fast (the default) cancels the legs running when one fails; their cancelled() steps run', async () => {
    const mark = await scratch.repo({
      'started/.keep': '',
      'failed/.keep': '',
      'cleaned/.keep': ''
    })
    const run = await scratch.run(
      { '.github/workflows/w.yml': FAIL_FAST('') },
      {},
      { env: { MARK: mark } }
    )
    expect(run.jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'leg (bad):failure',
      'leg (good1):cancelled',
      'leg (good2):cancelled'
    ])
    expect(run.result).toBe('failure')
    expect(existsSync(path.join(mark, 'cleaned/good1'))).toBe(true)
    expect(existsSync(path.join(mark, 'cleaned/bad'))).toBe(false)
  })

  it('fail-fast cancels the legs not started yet (max-parallel 1)', async () => {
    const run = await scratch.run({
      '.github/workflows/w.yml': `
on: push
jobs:
  leg:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2]
    steps:
      - run: exit 1
`
    })
    expect(run.jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'leg (1):failure',
      'leg (2):cancelled'
    ])
  })

  it('with fail-fast: false the other legs run to their end', async () => {
    const mark = await scratch.repo({
      'started/.keep': '',
      'failed/.keep': '',
      'cleaned/.keep': ''
    })
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': FAIL_FAST('fail-fast: false', 'wait_for "$MARK/failed" 1')
      },
      {},
      { env: { MARK: mark } }
    )
    expect(run.jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'leg (bad):failure',
      'leg (good1):success',
      'leg (good2):success'
    ])
  })
})
