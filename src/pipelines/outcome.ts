/**
 * From a failed pipeline (PipelineError) to what an operation reports: the one line that says
 * why, whether anything was rolled back, and the failed outcome of a deploy or rollback. Every
 * pipeline that turns its PipelineError into its own failure (deploy, rollback, restore and
 * sync, attempt, mirror, init) reads the error through these, so they say it the same way.
 */
import type { PipelineError } from './pipeline.js'
import { OperationFailed, type OperationOutcome } from './operation.js'

/** The failed step's error in one line of text (its message, or the thrown value as text). */
export function failureCause(e: PipelineError): string {
  return e.cause instanceof Error ? e.cause.message : String(e.cause)
}

/**
 * Whether the failed pipeline rolled something back: every undo ran and at least one step was
 * undone. A step that failed before any step with an undo had run (a preflight) changed
 * nothing, so there is nothing it rolled back.
 */
export function rolledBackBy(e: PipelineError): boolean {
  return e.undoComplete && e.reports.some(r => r.status === 'undone')
}

/** What an operation's outcome has before it runs its pipeline (who, where, from what to what). */
export type OutcomeBase = Omit<
  OperationOutcome,
  'status' | 'version' | 'rolledBack' | 'undoComplete' | 'steps' | 'error' | 'failedStep'
>

/**
 * The OperationFailed of a deploy or rollback whose pipeline failed: its steps, whether every
 * undo ran, the failed step and its cause (`error` replaces the cause when given), with the
 * status and the release users get now as the caller found them.
 */
export function operationFailed(
  base: OutcomeBase,
  e: PipelineError,
  now: Pick<OperationOutcome, 'status' | 'version' | 'rolledBack'> &
    Partial<Pick<OperationOutcome, 'error' | 'notes'>>
): OperationFailed {
  return new OperationFailed({
    ...base,
    status: now.status,
    version: now.version,
    rolledBack: now.rolledBack,
    undoComplete: e.undoComplete,
    steps: e.reports,
    error: now.error ?? failureCause(e),
    failedStep: e.failedStep,
    ...(now.notes && { notes: now.notes })
  })
}
