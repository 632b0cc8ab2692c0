/**
 * The run action: inputs → a one-off command in the site's live release (or a named installed
 * one), through the same runInRelease as `sitecycle run` → outputs and job summary. The
 * command's output goes to the job's log line by line as it comes, every secret masked; a
 * non-zero exit fails the step with one line naming the command and its exit code.
 */
import { describeCommand } from '../commands/command.js'
import { runInRelease, type RunCommandOutcome } from '../pipelines/run-command.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { runDataAction, type DataActionRun } from './data-action.js'
import { LogLines } from './log-lines.js'
import { readRunSettings, type RunSettings } from './run-inputs.js'
import type { SiteActionDeps } from './site-action.js'

/** Outputs of the run action besides `status` (`ran` or `failed`) and `url`. */
export enum RunOutput {
  /** The command's exit code; empty when it did not run. */
  ExitCode = 'exit-code',
  /** The release it ran in. */
  Version = 'version'
}

/** The run action's dependencies; tests replace the pipeline. */
export interface RunActionDeps extends SiteActionDeps {
  /** The one-off command pipeline (runInRelease() by default). */
  runInRelease?: typeof runInRelease
}

/** The command ran and exited with a code other than 0. */
export class CommandFailed extends SitecycleError {
  constructor(
    readonly outcome: RunCommandOutcome,
    /** The command line as the log shows it (secrets hidden). */
    readonly line: string,
    host: string
  ) {
    super(
      `command ${line} exited with code ${outcome.code} in release ${outcome.release} of site ${outcome.site} on ${host}`,
      'command'
    )
    this.name = 'CommandFailed'
  }
}

function rows(o: RunCommandOutcome, line: string, run: DataActionRun<RunSettings>) {
  return [
    ['Site', `${o.site} on ${run.target.exec.name}`],
    ['Release', o.release],
    ['Command', line],
    ['As', run.target.site.apache.user],
    ['Exit code', String(o.code)]
  ] as [string, string][]
}

function outputs(o: RunCommandOutcome): Record<string, string> {
  return { [RunOutput.ExitCode]: String(o.code), [RunOutput.Version]: o.release }
}

/** Run the run action; throws (secrets redacted) when it fails or the command exits non-zero. */
export async function runRunAction(core: ActionCore, deps: RunActionDeps = {}): Promise<void> {
  // The command line as shown: known once the release's secrets are registered with the reporter.
  let line = ''
  await runDataAction(
    core,
    {
      op: 'run',
      readSettings: readRunSettings,
      run: async ({ settings, target, reporter }) => {
        const log = (text: string) => core.info(reporter.redact(text))
        const stdout = new LogLines(log)
        const stderr = new LogLines(log)
        let outcome: RunCommandOutcome
        try {
          outcome = await (deps.runInRelease ?? runInRelease)({
            config: target.config,
            site: target.site,
            exec: target.exec,
            reporter,
            argv: settings.argv,
            ...(settings.release !== undefined && { release: settings.release }),
            lockWait: settings.lockWait,
            stdout,
            stderr
          })
        } finally {
          stdout.flush()
          stderr.flush()
        }
        line = reporter.redact(describeCommand({ argv: settings.argv }))
        if (outcome.code !== 0) throw new CommandFailed(outcome, line, target.exec.name)
        return outcome
      },
      report: (o, run) => ({
        status: o.status,
        heading: `▶️ Ran a command in site ${o.site}, release ${o.release}`,
        rows: rows(o, line, run),
        outputs: outputs(o)
      }),
      reportFailure: (error, run) =>
        error instanceof CommandFailed
          ? {
              status: 'failed',
              heading: `❌ The command exited with code ${error.outcome.code} in site ${error.outcome.site}, release ${error.outcome.release}`,
              rows: rows(error.outcome, error.line, run),
              outputs: outputs(error.outcome),
              error: error.message
            }
          : undefined
    },
    deps
  )
}
