/**
 * The compare action: two sites' inputs → compareSites → outputs, JSON report file, job summary.
 * With fail-on-difference, a difference fails the step (after the summary is written).
 */
import { compareSites } from '../compare/compare.js'
import { renderCompareMarkdown } from '../compare/compare-report.js'
import { SiteInput } from './inputs.js'
import type { ActionCore } from './action-core.js'
import {
  CompareInput,
  CompareOutput,
  readBooleanInput,
  readConfigSecretsInput,
  readSiteInputs,
  ReportFailure,
  runReportAction,
  writeReportFile
} from './compare-watch-action.js'
import { openSite, writeSummary, type SiteActionDeps } from './site-action.js'

/** The compare action's dependencies; tests pass a temp dir for the report. */
export interface CompareActionDeps extends SiteActionDeps {
  /** Where the JSON report is written (RUNNER_TEMP by default). */
  reportDir?: string
}

/** Run the compare action. Throws (secrets redacted) on failure, or on a difference when asked. */
export async function runCompareAction(
  core: ActionCore,
  deps: CompareActionDeps = {}
): Promise<void> {
  const subject = `${core.getInput(CompareInput.SiteA).trim()} and ${core.getInput(CompareInput.SiteB).trim()}`
  await runReportAction(core, 'compare', subject, async reporter => {
    const a = readSiteInputs(core, {
      [SiteInput.Site]: CompareInput.SiteA,
      [SiteInput.Host]: CompareInput.HostA
    })
    const b = readSiteInputs(core, {
      [SiteInput.Site]: CompareInput.SiteB,
      [SiteInput.Host]: CompareInput.HostB
    })
    const failOnDifference = readBooleanInput(core, CompareInput.FailOnDifference, false)
    const configSecrets = readConfigSecretsInput(core)
    const sideA = await openSite(a, reporter, deps)
    try {
      const sideB = await openSite(b, reporter, deps)
      try {
        const report = await compareSites({
          a: sideA,
          b: sideB,
          env: { ...(deps.env ?? process.env), ...configSecrets },
          secrets: Object.values(configSecrets),
          reporter
        })
        const file = await writeReportFile('compare', report, deps.reportDir)
        core.setOutput(CompareOutput.Same, String(report.same))
        core.setOutput(CompareOutput.Differences, String(report.differences))
        core.setOutput(CompareOutput.ReportFile, file)
        reporter.info(
          report.same
            ? `sites ${a.site} and ${b.site} are the same`
            : `sites ${a.site} and ${b.site}: ${report.differences} differences (report: ${file})`
        )
        await writeSummary(core, renderCompareMarkdown(report, reporter.redact.bind(reporter)))
        if (failOnDifference && !report.same)
          throw new ReportFailure(
            `sites ${a.site} and ${b.site} differ in ${report.differences} places (see the job summary)`
          )
      } finally {
        await sideB.close()
      }
    } finally {
      await sideA.close()
    }
  })
}
