/**
 * Reading a run in tests: every job including those of called workflows, a job by id, and a
 * failure described with the failing steps and the tail of their log, so a red test says why.
 */
import type { ActionRun, JobRecord, StepRecord, WorkflowRun } from './model.js'

/** Every job and leg of a run, the jobs of called workflows after their caller. */
export function allJobs(run: WorkflowRun): JobRecord[] {
  return run.jobs.flatMap(j => [j, ...(j.call ? allJobs(j.call) : [])])
}

/** The first job (or leg) with this id, searching called workflows too; throws when absent. */
export function jobOf(run: WorkflowRun, id: string): JobRecord {
  const job = allJobs(run).find(j => j.id === id || j.name === id)
  if (!job)
    throw new Error(
      `no job '${id}' in ${run.file}: ${allJobs(run)
        .map(j => j.name)
        .join(', ')}`
    )
  return job
}

/** Every step of a job, inner steps of composite actions after their step. */
export function allSteps(steps: StepRecord[]): StepRecord[] {
  return steps.flatMap(s => [s, ...(s.steps ? allSteps(s.steps) : [])])
}

function failedSteps(steps: StepRecord[], prefix: string): string[] {
  return steps.flatMap(s => {
    if (s.outcome !== 'failure') return []
    const inner = s.steps ? failedSteps(s.steps, `${prefix}${s.name} / `) : []
    return inner.length ? inner : [`${prefix}${s.name}${s.error ? `: ${s.error}` : ''}`]
  })
}

/** A readable account of what failed in a run (or an action run), with the log's last lines. */
export function describeFailure(run: WorkflowRun | ActionRun, tailLines = 40): string {
  const lines: string[] = []
  if ('jobs' in run) {
    if (run.error) lines.push(`run: ${run.error}`)
    for (const job of allJobs(run)) {
      if (job.result !== 'failure' && job.result !== 'cancelled') continue
      lines.push(`job ${job.name}: ${job.result}${job.error ? ` (${job.error})` : ''}`)
      for (const s of failedSteps(job.steps, '')) lines.push(`  step ${s}`)
    }
  } else {
    for (const s of failedSteps(run.steps, '')) lines.push(`step ${s}`)
  }
  for (const a of run.annotations)
    if (a.level === 'error') lines.push(`error annotation: ${a.message}`)
  lines.push('--- log tail ---', ...run.log.slice(-tailLines))
  return lines.join('\n')
}

/** Throw with describeFailure when the run did not succeed. */
export function assertSucceeded(run: WorkflowRun | ActionRun): void {
  if (run.result !== 'success') {
    throw new Error(`the run ended in ${run.result}:\n${describeFailure(run)}`)
  }
}
