/**
 * A pipeline is an ordered list of named steps, each with its undo. Running it is one loop:
 * on failure, run the undos of the completed steps in reverse, then throw. The plan (dry run),
 * the journal and the job summary all read the same list.
 */
import type { Reporter } from '../util/reporter.js'

export interface Step<C> {
  /** Short kebab-case name, used in the journal, the summary and fault injection. */
  name: string
  /** What the step does, in words. */
  title: string
  /** Do it. May return a note shown in the summary. */
  run(ctx: C): Promise<string | void>
  /** Put things back as they were before run() (only called when run() completed). */
  undo?(ctx: C): Promise<void>
  /** When false, a failure is reported as a warning and the pipeline goes on. Default true. */
  critical?: boolean
  /** When given and false at run time, the step is skipped (e.g. the verify-idle step in single mode). */
  when?(ctx: C): boolean
}

export type StepStatus =
  'ok' | 'failed' | 'undone' | 'undo-failed' | 'warning' | 'skipped' | 'not-run'

export interface StepReport {
  name: string
  title: string
  status: StepStatus
  ms: number
  note?: string
  error?: string
}

export interface PipelineEvents {
  /** Called after each step's run or undo (for the journal). */
  onEvent?(event: {
    step: string
    phase: 'run' | 'undo'
    status: StepStatus
    ms: number
    note?: string
    error?: string
  }): Promise<void>
}

/** A pipeline that failed: its steps' reports, whether its undos all ran, and the cause. */
export class PipelineError extends Error {
  constructor(
    readonly failedStep: string,
    readonly cause: unknown,
    readonly reports: StepReport[],
    readonly undoComplete: boolean
  ) {
    super(`step '${failedStep}' failed: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'PipelineError'
  }
}

/** Test hooks, off unless set: SIGKILL this process after a named step, or fail a named step. */
function faultAfter(step: string): void {
  if (process.env.SITECYCLE_FAULT_KILL_AFTER === step) process.kill(process.pid, 'SIGKILL')
}
function faultAt(step: string): void {
  if (process.env.SITECYCLE_FAULT_FAIL_AT === step)
    throw new Error(`injected failure at step ${step} (SITECYCLE_FAULT_FAIL_AT)`)
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** Run the steps in order; on failure undo the completed ones in reverse and throw PipelineError. */
export async function runPipeline<C>(
  steps: Step<C>[],
  ctx: C,
  reporter: Reporter,
  events: PipelineEvents = {}
): Promise<StepReport[]> {
  const reports: StepReport[] = steps.map(s => ({
    name: s.name,
    title: s.title,
    status: 'not-run',
    ms: 0
  }))
  const done: number[] = []
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]
    const started = Date.now()
    if (step.when && !step.when(ctx)) {
      reports[i] = { ...reports[i], status: 'skipped' }
      continue
    }
    reporter.stepStart(step.name, step.title)
    try {
      faultAt(step.name)
      const note = await step.run(ctx)
      reports[i] = {
        ...reports[i],
        status: 'ok',
        ms: Date.now() - started,
        note: note || undefined
      }
      reporter.stepEnd(step.name, 'ok', reports[i].ms, reports[i].note)
      await events.onEvent?.({
        step: step.name,
        phase: 'run',
        status: 'ok',
        ms: reports[i].ms,
        note: reports[i].note
      })
      done.push(i)
      faultAfter(step.name)
    } catch (e) {
      const ms = Date.now() - started
      if (step.critical === false) {
        reports[i] = { ...reports[i], status: 'warning', ms, error: message(e) }
        reporter.stepEnd(step.name, 'warning', ms, message(e))
        await events.onEvent?.({
          step: step.name,
          phase: 'run',
          status: 'warning',
          ms,
          error: message(e)
        })
        continue
      }
      reports[i] = { ...reports[i], status: 'failed', ms, error: message(e) }
      reporter.stepEnd(step.name, 'failed', ms, message(e))
      await events
        .onEvent?.({ step: step.name, phase: 'run', status: 'failed', ms, error: message(e) })
        .catch(() => {})
      let undoComplete = true
      for (const j of [...done].reverse()) {
        const s = steps[j]
        if (!s.undo) continue
        const t = Date.now()
        reporter.info(`undo ${s.name}: ${s.title}`)
        try {
          await s.undo(ctx)
          reports[j] = { ...reports[j], status: 'undone' }
          await events
            .onEvent?.({ step: s.name, phase: 'undo', status: 'undone', ms: Date.now() - t })
            .catch(() => {})
        } catch (ue) {
          undoComplete = false
          reports[j] = { ...reports[j], status: 'undo-failed', error: message(ue) }
          reporter.warn(`undo of '${s.name}' failed: ${message(ue)}`)
          await events
            .onEvent?.({
              step: s.name,
              phase: 'undo',
              status: 'undo-failed',
              ms: Date.now() - t,
              error: message(ue)
            })
            .catch(() => {})
        }
      }
      throw new PipelineError(step.name, e, reports, undoComplete)
    }
  }
  return reports
}

/** The plan of a pipeline, for --dry-run: one line per step. */
export function describePlan<C>(steps: Step<C>[]): string[] {
  return steps.map(
    (s, i) => `${String(i + 1).padStart(2)}. ${s.name}: ${s.title}${s.undo ? ' (undo: yes)' : ''}`
  )
}
