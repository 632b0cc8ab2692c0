/**
 * The node a JavaScript action runs on. The runner runs `using: node24` actions on Node 24, so
 * the harness does too: `options.node` when it is Node 24, else the binary named by
 * SITECYCLE_NODE24, else the harness's own node, else the `node@24` npm package
 * (node_modules/node/bin/node) when it is installed, whichever is Node 24 first; with
 * none of them the action is refused, never run on another major version. Older `using:`
 * values run on the harness's node (the runner, too, runs them on a newer node than declared).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { HarnessUnsupported, type SourceLocation } from './errors.js'

const versions = new Map<string, string | undefined>()

/** The version a node binary reports (cached), or undefined when it does not run. */
export function nodeVersion(binary: string): string | undefined {
  if (binary === process.execPath) return process.versions.node
  if (!versions.has(binary)) {
    let v: string | undefined
    try {
      v = execFileSync(binary, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
    } catch {
      v = undefined
    }
    versions.set(binary, v)
  }
  return versions.get(binary)
}

/** node_modules/node/bin/node of this repository (the `node` npm package, e.g. node@24). */
export function packagedNode(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  return path.resolve(here, '../../node_modules/node/bin/node')
}

function major(version: string | undefined): number | undefined {
  return version ? Number(version.split('.')[0]) : undefined
}

/**
 * The binary to run an action declaring `using: node<wanted>` with, and a note for the log when
 * it is not the declared version. `configured` is options.node (undefined: not given).
 */
export function nodeForAction(
  wanted: number,
  configured: string | undefined,
  at: SourceLocation
): { binary: string; note?: string } {
  if (wanted < 24) {
    const binary = configured ?? process.execPath
    const have = major(nodeVersion(binary))
    return have !== undefined && have < wanted
      ? { binary, note: `(harness: node${wanted} action run with node v${nodeVersion(binary)})` }
      : { binary }
  }
  const candidates = [
    configured,
    process.env[`SITECYCLE_NODE${wanted}`],
    process.execPath,
    packagedNode()
  ].filter((c): c is string => c !== undefined && (c === process.execPath || existsSync(c)))
  for (const c of candidates) if (major(nodeVersion(c)) === wanted) return { binary: c }
  throw new HarnessUnsupported(
    `a 'using: node${wanted}' action without Node ${wanted}`,
    at,
    `the runner runs it on Node ${wanted}; found ${candidates
      .map(c => `${c} (v${nodeVersion(c) ?? '?'})`)
      .join(
        ', '
      )}: install the node@${wanted} npm package (node_modules/node/bin/node), run the harness on Node ${wanted}, set SITECYCLE_NODE${wanted} to a Node ${wanted} binary, or pass options.node`
  )
}
