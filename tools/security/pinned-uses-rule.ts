import { isScalar, type Scalar } from 'yaml'
import type { Finding } from './finding.js'
import { findingAt, jobsOf, mapAt, nodeAt, stepsOf, type SourceFile } from './source-file.js'

/** A full commit SHA: what a tag or branch cannot be moved to. */
const COMMIT_SHA = /^[0-9a-f]{40}$/
/** `docker://image@sha256:<64 hex>` (a tag such as `:3.20` can be re-pushed). */
const DOCKER_DIGEST = /^docker:\/\/[^@\s]+@sha256:[0-9a-f]{64}$/
/** The version a SHA stands for, as Dependabot and Renovate write it: `# v1.2.3`. */
const VERSION_COMMENT = /^\s*[\]}]*\s*#\s*(v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)(?:\s|$)/

/**
 * Every remote `uses:` (steps of workflows and composite actions, jobs calling reusable
 * workflows) is pinned to a full 40-hex commit SHA followed by a version comment
 * (`owner/repo@<sha> # v1.2.3`), so what runs cannot change under the same name and a reader
 * (or Dependabot) knows which release it is. Local `./` uses are exempt: they run the same
 * commit. `docker://` images are pinned by `@sha256:` digest; so is a docker action's image.
 */
export function checkPinnedUses(file: SourceFile): Finding[] {
  const findings: Finding[] = []
  for (const { step, where } of stepsOf(file)) {
    const uses = nodeAt(step, 'uses')
    if (isScalar(uses)) findings.push(...checkUses(file, uses, `${where}.uses`))
  }
  if (file.kind === 'workflow') {
    for (const [id, job] of jobsOf(file)) {
      const uses = nodeAt(job, 'uses')
      if (isScalar(uses)) findings.push(...checkUses(file, uses, `jobs.${id}.uses`))
    }
  } else {
    const runs = mapAt(file.doc.contents, 'runs')
    const image = nodeAt(runs, 'image')
    if (isScalar(image) && String(image.value).startsWith('docker://')) {
      findings.push(...checkUses(file, image, 'runs.image'))
    }
  }
  return findings
}

function checkUses(file: SourceFile, node: Scalar, where: string): Finding[] {
  const value = String(node.value).trim()
  if (value.startsWith('./')) return []
  if (value.startsWith('docker://')) {
    if (DOCKER_DIGEST.test(value)) return []
    return [
      finding(
        file,
        node,
        `${where} \`${value}\` is not pinned by digest; use \`docker://image@sha256:<digest>\``
      )
    ]
  }
  const at = value.lastIndexOf('@')
  const ref = at > 0 ? value.slice(at + 1) : ''
  if (!COMMIT_SHA.test(ref)) {
    return [
      finding(
        file,
        node,
        `${where} \`${value}\` is not pinned to a full 40-hex commit SHA; use \`${at > 0 ? value.slice(0, at) : value}@<sha> # <version>\``
      )
    ]
  }
  const end = node.range?.[1] ?? 0
  const lineEnd = file.text.indexOf('\n', end)
  const rest = file.text.slice(end, lineEnd === -1 ? undefined : lineEnd)
  if (VERSION_COMMENT.test(rest)) return []
  return [
    finding(
      file,
      node,
      `${where} \`${value}\` has no version comment; write the release the SHA stands for after it, e.g. \`# v1.2.3\``
    )
  ]
}

function finding(file: SourceFile, node: Scalar, message: string): Finding {
  return findingAt(file, node, 'pinned-uses', message)
}
