/**
 * The actions' outputs: their names, and setting them from an outcome (success or failure).
 */
import type { OperationOutcome } from '../pipelines/operation.js'
import type { ActionCore } from './action-core.js'

/** Outputs of both actions (same names in deploy and rollback). */
export enum Output {
  /** deployed | unchanged | rolled-back | failed | planned (dry run). */
  Status = 'status',
  /** The release users get now. */
  Version = 'version',
  /** The release users got before the run. */
  PreviousVersion = 'previous-version',
  /** The site's URL. */
  Url = 'url',
  /** 'true' when the run put the site back on an earlier release (a rollback, or a failed deploy undone). */
  RolledBack = 'rolled-back'
}

/** The `status` output of a dry run. */
export const PLANNED = 'planned'

/** Set every output from an operation's outcome, whether it succeeded or failed. */
export function setOutcomeOutputs(
  core: Pick<ActionCore, 'setOutput'>,
  outcome: OperationOutcome
): void {
  core.setOutput(Output.Status, outcome.status)
  core.setOutput(Output.Version, outcome.version ?? '')
  core.setOutput(Output.PreviousVersion, outcome.previousVersion ?? '')
  core.setOutput(Output.Url, outcome.url)
  core.setOutput(Output.RolledBack, String(outcome.rolledBack))
}

/**
 * Set the outputs of a run that failed before it had an outcome (nothing changed on the site; the
 * versions are unknown then and left empty).
 */
export function setEarlyFailureOutputs(core: Pick<ActionCore, 'setOutput'>, url?: string): void {
  core.setOutput(Output.Status, 'failed')
  core.setOutput(Output.RolledBack, 'false')
  if (url) core.setOutput(Output.Url, url)
}

/** Set the outputs of a dry run: nothing ran, so no version is reported. */
export function setPlanOutputs(core: Pick<ActionCore, 'setOutput'>, url: string): void {
  core.setOutput(Output.Status, PLANNED)
  core.setOutput(Output.RolledBack, 'false')
  core.setOutput(Output.Url, url)
}
