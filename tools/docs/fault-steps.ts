/**
 * The step names of docs/check-recovery.md, generated from the pipelines' own step lists (the
 * names SITECYCLE_FAULT_KILL_AFTER and SITECYCLE_FAULT_FAIL_AT take), one table per operation.
 */
import { deployPlan, deploySteps } from '../../src/pipelines/deploy/steps.js'
import { describePlan } from '../../src/pipelines/pipeline.js'
import { mirrorPlan } from '../../src/pipelines/mirror.js'
import { releasePlan } from '../../src/pipelines/release.js'
import { restorePlan } from '../../src/pipelines/restore.js'
import { syncPlan } from '../../src/pipelines/sync.js'
import { snapshotPlan } from '../../src/snapshots/snapshot.js'
import { tableCell, type GeneratedSection } from './generated-section.js'

export const FAULT_STEPS_FILE = 'docs/check-recovery.md'

/** One step of a plan line as `describePlan` writes it: ` 3. name: what it does (undo: yes)`. */
export function parsePlanLine(line: string): { name: string; title: string; undo: boolean } {
  const m = /^\s*\d+\. ([a-z0-9-]+): (.*?)( \(undo: yes\))?$/.exec(line)
  if (!m) throw new Error(`not a plan line: ${JSON.stringify(line)}`)
  return { name: m[1], title: m[2], undo: Boolean(m[3]) }
}

/** The operations and their plans, in the order the page lists them. */
export function operationPlans(): { heading: string; plan: string[] }[] {
  return [
    { heading: '`sitecycle deploy`', plan: deployPlan() },
    {
      heading: '`sitecycle deploy` of a site whose hooks freeze it (`hooks.freeze`)',
      plan: describePlan(deploySteps({ freeze: true }))
    },
    { heading: '`sitecycle snapshot`', plan: snapshotPlan() },
    { heading: '`sitecycle restore`', plan: restorePlan() },
    { heading: '`sitecycle sync` (a preview)', plan: syncPlan() },
    { heading: '`sitecycle mirror` (a delayed mirror)', plan: mirrorPlan() },
    { heading: '`sitecycle release`', plan: releasePlan() }
  ]
}

export function renderFaultSteps(): string {
  const parts = [
    "<!-- Generated from the pipelines' step lists by `npm run docs`; edit those, not this. -->",
    ''
  ]
  for (const { heading, plan } of operationPlans()) {
    parts.push(
      `#### ${heading}`,
      '',
      '| step | what it does | undone when a later step fails |',
      '| --- | --- | --- |'
    )
    for (const step of plan.map(parsePlanLine))
      parts.push(`| \`${step.name}\` | ${tableCell(step.title)} | ${step.undo ? 'yes' : ''} |`)
    parts.push('')
  }
  return parts.join('\n')
}

export const FAULT_STEPS: GeneratedSection = {
  name: 'step tables',
  file: FAULT_STEPS_FILE,
  start: '<!-- sitecycle:fault-steps:start -->',
  end: '<!-- sitecycle:fault-steps:end -->',
  render: async () => renderFaultSteps()
}
