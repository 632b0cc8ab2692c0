/**
 * The watch action: the site's inputs → watchSite → outputs, JSON report file, job summary. A
 * drift fails the step (unless fail-on-drift is false), after the summary is written.
 */
import { watchSite } from '../watch/watch.js'
import { renderWatchMarkdown } from '../watch/watch-report.js'
import type { ActionCore } from './action-core.js'
import {
  readBooleanInput,
  readSiteInputs,
  ReportFailure,
  runReportAction,
  WatchInput,
  WatchOutput,
  writeReportFile
} from './compare-watch-action.js'
import { SiteInput } from './inputs.js'
import { openSite, writeSummary, type SiteActionDeps } from './site-action.js'

/** The watch action's dependencies; tests pass a temp dir for the report. */
export interface WatchActionDeps extends SiteActionDeps {
  /** Where the JSON report is written (RUNNER_TEMP by default). */
  reportDir?: string
}

/** Run the watch action. Throws (secrets redacted) on failure, or on drift unless told not to. */
export async function runWatchAction(core: ActionCore, deps: WatchActionDeps = {}): Promise<void> {
  await runReportAction(core, 'watch', core.getInput(SiteInput.Site).trim(), async reporter => {
    const settings = readSiteInputs(core)
    const failOnDrift = readBooleanInput(core, WatchInput.FailOnDrift, true)
    const target = await openSite(settings, reporter, deps)
    try {
      const report = await watchSite(target)
      const file = await writeReportFile('watch', report, deps.reportDir)
      core.setOutput(WatchOutput.Drifted, String(report.drifted))
      core.setOutput(WatchOutput.Findings, String(report.findings.length))
      core.setOutput(WatchOutput.ReportFile, file)
      // The runner shows only the first few annotations of a step: the rest are in the summary.
      for (const f of report.findings.slice(0, 10)) reporter.warn(`site ${report.site}: ${f}`)
      if (report.findings.length > 10)
        reporter.warn(
          `site ${report.site}: ${report.findings.length - 10} more findings in the job summary`
        )
      if (!report.drifted)
        reporter.info(
          `site ${report.site}: ${report.files.checked} files match their RECORDs, config ${report.config.status}, links ${report.links.status}`
        )
      await writeSummary(core, renderWatchMarkdown(report, reporter.redact.bind(reporter)))
      if (report.drifted && failOnDrift)
        throw new ReportFailure(
          `site ${report.site} has drifted: ${report.findings.length} findings (see the job summary)`
        )
    } finally {
      await target.close()
    }
  })
}
