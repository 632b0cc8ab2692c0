import { isMap, isScalar, type Node } from 'yaml'
import type { Finding } from './finding.js'
import { findingAtOffset, nodeAt, stepsOf, stringAt, type SourceFile } from './source-file.js'

/**
 * The project rule "never `${{ }}` inside `run:`" (DESIGN.md, rule 5): any expression in a
 * `run:` script is expanded into the script text before the shell parses it, so a value from
 * an input, `github.event`, `github.head_ref`, a matrix or a step output can run code. There is
 * deliberately no allow-list of "safe" contexts: pass every value through `env:` and quote the
 * variable. `actions/github-script`'s `script:` is a script too and gets the same rule.
 */
export function checkExpressionsInRun(file: SourceFile): Finding[] {
  const findings: Finding[] = []
  for (const { step, where } of stepsOf(file)) {
    const run = nodeAt(step, 'run')
    if (run) findings.push(...expressionsIn(file, run, `${where}.run`))
    const uses = stringAt(step, 'uses')
    if (uses && /^actions\/github-script@/i.test(uses)) {
      const script = nodeAt(nodeAt(step, 'with'), 'script')
      if (script) findings.push(...expressionsIn(file, script, `${where}.with.script`))
    }
  }
  return findings
}

function expressionsIn(file: SourceFile, node: Node, where: string): Finding[] {
  if (!isScalar(node) && !isMap(node)) return []
  const [start, end] = node.range ?? [0, 0]
  const source = file.text.slice(start, end)
  const findings: Finding[] = []
  for (const match of source.matchAll(/\$\{\{(.*?)(\}\}|$)/gm)) {
    const expression = `\${{${match[1]}${match[2]}`.trim()
    findings.push(
      findingAtOffset(
        file,
        start + (match.index ?? 0),
        'no-expression-in-run',
        `${where} expands \`${expression}\` into the script; pass the value through \`env:\` and use the quoted variable instead`
      )
    )
  }
  return findings
}
