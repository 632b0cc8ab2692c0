/**
 * The table of workflows/README.md that says what each starter grants and passes, generated from
 * the workflows themselves so it cannot drift: a called workflow's jobs can never get more than
 * the calling job grants (GitHub refuses the run), so a starter must grant the union of what the
 * jobs of the workflow it calls ask for, and nothing more.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parsePermissions } from '../harness/token-scopes.js'
import type { GeneratedSection } from './generated-section.js'

export const STARTER_START_MARKER = '<!-- sitecycle:starter-permissions:start -->'
export const STARTER_END_MARKER = '<!-- sitecycle:starter-permissions:end -->'

/** The README the table lives in, relative to the root. */
export const STARTERS_README = 'workflows/README.md'

type Level = 'read' | 'write'
/** Scope name → level; scopes at `none` are left out. */
export type Permissions = Record<string, Level>

/** One job of a starter that calls a reusable workflow of sitecycle. */
export interface StarterCall {
  /** `workflows/deploy-production.yml`. */
  starter: string
  job: string
  /** `.github/workflows/deploy.yml`. */
  called: string
  /** What the called workflow's jobs ask for, together. */
  needs: Permissions
  /** What the starter's job grants. */
  grants: Permissions
  /** The secrets the called workflow declares, in its order. */
  declaredSecrets: string[]
  /** What the starter passes: the names, or `inherit`. */
  passedSecrets: string[] | 'inherit'
}

type Yaml = Record<string, unknown>

/** `permissions:` as written (a map, `{}`, `read-all`, `write-all`) → the scopes granted, read
 * as the harness reads them (tools/harness/token-scopes.ts), `none` left out. */
export function permissionsOf(value: unknown, where: string): Permissions {
  const out: Permissions = {}
  for (const [scope, level] of Object.entries(parsePermissions(value, where)))
    if (level !== 'none') out[scope] = level
  return out
}

function union(a: Permissions, b: Permissions): Permissions {
  const out: Permissions = { ...a }
  for (const [scope, level] of Object.entries(b)) if (out[scope] !== 'write') out[scope] = level
  return out
}

/** What the jobs of a reusable workflow ask for together (a job without its own takes the workflow's). */
export function neededPermissions(doc: Yaml, file: string): Permissions {
  const top = doc.permissions === undefined ? undefined : permissionsOf(doc.permissions, file)
  let needs: Permissions = {}
  for (const [id, job] of Object.entries((doc.jobs ?? {}) as Record<string, Yaml>)) {
    const own = job.permissions
    if (own === undefined && top === undefined)
      throw new Error(`${file}: job ${id} has no permissions and the workflow none either`)
    needs = union(
      needs,
      own === undefined ? (top as Permissions) : permissionsOf(own, `${file} jobs.${id}`)
    )
  }
  return needs
}

const CALL = /^OWNER\/sitecycle\/(\.github\/workflows\/[\w.-]+\.ya?ml)@[0-9a-f]{40}$/

async function readYaml(root: string, file: string): Promise<Yaml> {
  return parseYaml(await fs.readFile(path.join(root, file), 'utf8')) as Yaml
}

/** Every job of `workflows/*.yml` that calls a reusable workflow of sitecycle, in file order. */
export async function readStarterCalls(root: string): Promise<StarterCall[]> {
  const names = (await fs.readdir(path.join(root, 'workflows')))
    .filter(name => /\.ya?ml$/.test(name))
    .sort()
  const calls: StarterCall[] = []
  for (const name of names) {
    const starter = `workflows/${name}`
    const doc = await readYaml(root, starter)
    for (const [job, body] of Object.entries((doc.jobs ?? {}) as Record<string, Yaml>)) {
      const match = typeof body.uses === 'string' ? CALL.exec(body.uses) : null
      if (!match) continue
      const called = match[1]
      const calledDoc = await readYaml(root, called)
      const on = (calledDoc.on ?? {}) as Yaml
      const call = (on.workflow_call ?? {}) as Yaml
      const grantsValue = body.permissions ?? doc.permissions ?? {}
      calls.push({
        starter,
        job,
        called,
        needs: neededPermissions(calledDoc, called),
        grants: permissionsOf(grantsValue, `${starter} jobs.${job}`),
        declaredSecrets: Object.keys((call.secrets ?? {}) as Yaml),
        passedSecrets:
          body.secrets === 'inherit' ? 'inherit' : Object.keys((body.secrets ?? {}) as Yaml)
      })
    }
  }
  return calls
}

/** What is wrong with the starters: grants other than the needs, `secrets: inherit`, unknown secrets. */
export function starterProblems(calls: StarterCall[]): string[] {
  const problems: string[] = []
  const show = (p: Permissions) => JSON.stringify(p)
  for (const call of calls) {
    const where = `${call.starter} jobs.${call.job}`
    const scopes = new Set([...Object.keys(call.needs), ...Object.keys(call.grants)])
    for (const scope of [...scopes].sort()) {
      if (call.grants[scope] !== call.needs[scope])
        problems.push(
          `${where} grants ${show(call.grants)} but ${call.called} needs ${show(call.needs)} (${scope}: ${call.needs[scope] ?? 'none'})`
        )
    }
    if (call.passedSecrets === 'inherit')
      problems.push(
        `${where} passes secrets: inherit, which reaches a workflow of another owner empty; pass them by name`
      )
    else
      for (const name of call.passedSecrets)
        if (!call.declaredSecrets.includes(name))
          problems.push(`${where} passes secret ${name}, which ${call.called} does not declare`)
  }
  return problems
}

function code(text: string): string {
  return `\`${text}\``
}

/** The generated table (between the markers). */
export function renderStarterTable(calls: StarterCall[]): string {
  const lines = [
    '<!-- Generated from workflows/*.yml and the workflows they call by `npm run docs`; edit those, not this. -->',
    '',
    '| starter | calls | permissions of the calling job | secrets the workflow takes (pass them by name) |',
    '| --- | --- | --- | --- |'
  ]
  for (const call of calls) {
    const grants = Object.entries(call.needs)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([scope, level]) => code(`${scope}: ${level}`))
    const secrets = call.declaredSecrets.map(code)
    lines.push(
      `| [${code(path.basename(call.starter))}](${path.basename(call.starter)}) | ${code(call.called)} | ${grants.join(', ') || code('{}')} | ${secrets.join(', ') || 'none'} |`
    )
  }
  return lines.join('\n')
}

/** The permissions table of workflows/README.md, from the starters and the workflows they call. */
export const STARTER_TABLE: GeneratedSection = {
  name: 'starter table',
  file: STARTERS_README,
  start: STARTER_START_MARKER,
  end: STARTER_END_MARKER,
  render: async root => renderStarterTable(await readStarterCalls(root))
}
