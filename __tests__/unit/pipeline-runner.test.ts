import {
  runPipeline,
  PipelineError,
  describePlan,
  type Step
} from '../../src/pipelines/pipeline.js'
import { StreamReporter } from '../../src/util/reporter.js'

const reporter = () => new StreamReporter(() => undefined)

function steps(log: string[], failAt?: string, undoFailAt?: string): Step<object>[] {
  const mk = (name: string, extra: Partial<Step<object>> = {}): Step<object> => ({
    name,
    title: `do ${name}`,
    run: async () => {
      log.push(`run ${name}`)
      if (name === failAt) throw new Error(`${name} broke`)
    },
    undo: async () => {
      log.push(`undo ${name}`)
      if (name === undoFailAt) throw new Error(`undo ${name} broke`)
    },
    ...extra
  })
  return [mk('a'), mk('b', { undo: undefined }), mk('c'), mk('d'), mk('e')]
}

test('all steps run in order and report ok', async () => {
  const log: string[] = []
  const reports = await runPipeline(steps(log), {}, reporter())
  expect(log).toEqual(['run a', 'run b', 'run c', 'run d', 'run e'])
  expect(reports.map(r => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
})

test('a failing step: the completed steps are undone in reverse, later steps never run', async () => {
  const log: string[] = []
  const err = await runPipeline(steps(log, 'd'), {}, reporter()).catch(e => e)
  expect(err).toBeInstanceOf(PipelineError)
  expect(err.failedStep).toBe('d')
  expect(err.undoComplete).toBe(true)
  expect(log).toEqual(['run a', 'run b', 'run c', 'run d', 'undo c', 'undo a'])
  expect(err.reports.map((r: { status: string }) => r.status)).toEqual([
    'undone',
    'ok',
    'undone',
    'failed',
    'not-run'
  ])
})

test('an undo that fails is reported and the other undos still run', async () => {
  const log: string[] = []
  const err = await runPipeline(steps(log, 'd', 'c'), {}, reporter()).catch(e => e)
  expect(err.undoComplete).toBe(false)
  expect(log).toEqual(['run a', 'run b', 'run c', 'run d', 'undo c', 'undo a'])
  expect(err.reports[2]).toMatchObject({ status: 'undo-failed', error: 'undo c broke' })
})

test('a non-critical step fails as a warning; a step whose when() is false is skipped', async () => {
  const log: string[] = []
  const s = steps(log, 'c')
  s[2].critical = false
  s[3].when = () => false
  const reports = await runPipeline(s, {}, reporter())
  expect(reports.map(r => r.status)).toEqual(['ok', 'ok', 'warning', 'skipped', 'ok'])
  expect(log).toEqual(['run a', 'run b', 'run c', 'run e'])
})

test('every step and undo is reported to the journal hook', async () => {
  const events: string[] = []
  await runPipeline(steps([], 'c'), {}, reporter(), {
    onEvent: async e => {
      events.push(`${e.phase} ${e.step} ${e.status}`)
    }
  }).catch(() => undefined)
  expect(events).toEqual(['run a ok', 'run b ok', 'run c failed', 'undo a undone'])
})

test('the plan lists the steps with their undos', () => {
  expect(describePlan(steps([]))).toEqual([
    ' 1. a: do a (undo: yes)',
    ' 2. b: do b',
    ' 3. c: do c (undo: yes)',
    ' 4. d: do d (undo: yes)',
    ' 5. e: do e (undo: yes)'
  ])
})

test('an injected failure (SITECYCLE_FAULT_FAIL_AT) fails that step', async () => {
  process.env.SITECYCLE_FAULT_FAIL_AT = 'b'
  try {
    const log: string[] = []
    const err = await runPipeline(steps(log), {}, reporter()).catch(e => e)
    expect(err.failedStep).toBe('b')
    expect(log).toEqual(['run a', 'undo a'])
  } finally {
    delete process.env.SITECYCLE_FAULT_FAIL_AT
  }
})
