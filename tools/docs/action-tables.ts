import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { isMap, isScalar, parseDocument } from 'yaml'
import { tableCell as cell, type GeneratedSection } from './generated-section.js'

/** The marker lines around the generated tables in README.md. */
export const START_MARKER = '<!-- sitecycle:action-tables:start -->'
export const END_MARKER = '<!-- sitecycle:action-tables:end -->'

/** An input of an action, as `action.yml` declares it. */
export interface ActionInput {
  name: string
  description: string
  required: boolean
  /** The default as written (`${{ github.token }}` stays an expression); undefined when none. */
  default?: string
}

/** An output of an action. */
export interface ActionOutput {
  name: string
  description: string
}

/** What the README says about one action. */
export interface ActionDoc {
  /** The folder the action is used by: `actions/deploy`. */
  dir: string
  name: string
  description: string
  inputs: ActionInput[]
  outputs: ActionOutput[]
}

/** A broken `action.yml` for the docs: names the file. */
export class ActionMetadataError extends Error {
  constructor(
    message: string,
    readonly file: string
  ) {
    super(`${file}: ${message}`)
    this.name = 'ActionMetadataError'
  }
}

/** The heading of an action's block: its folder, or `action.yml` for the top-level one. */
export function actionHeading(action: ActionDoc): string {
  return `### \`${action.dir === '.' ? 'action.yml' : action.dir}\``
}

/** Reads the top-level `action.yml` (the setup action), then `actions/*\/action.yml` under `root`, in folder order. */
export async function readActionDocs(root: string): Promise<ActionDoc[]> {
  const docs: ActionDoc[] = []
  try {
    docs.push(parseActionDoc('.', await fs.readFile(path.join(root, 'action.yml'), 'utf8')))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const dirs = (await fs.readdir(path.join(root, 'actions'), { withFileTypes: true }))
    .filter(entry => entry.isDirectory())
    .map(entry => entry.name)
    .sort()
  for (const dir of dirs) {
    const file = path.join(root, 'actions', dir, 'action.yml')
    let text: string
    try {
      text = await fs.readFile(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }
    docs.push(parseActionDoc(`actions/${dir}`, text))
  }
  return docs
}

/** Parses one `action.yml` text into what the tables show. */
export function parseActionDoc(dir: string, text: string): ActionDoc {
  const file = dir === '.' ? 'action.yml' : `${dir}/action.yml`
  const doc = parseDocument(text)
  if (doc.errors.length) throw new ActionMetadataError(doc.errors[0].message, file)
  const root = doc.contents
  if (!isMap(root)) throw new ActionMetadataError('expected a map at the top', file)
  const asText = (value: unknown): string =>
    value === undefined || value === null ? '' : String(value)
  const section = <T>(
    key: string,
    read: (name: string, fields: Map<string, unknown>) => T
  ): T[] => {
    const node = root.get(key, true)
    if (node === undefined || node === null) return []
    if (!isMap(node)) throw new ActionMetadataError(`\`${key}\` must be a map`, file)
    return node.items.map(pair => {
      const name = isScalar(pair.key) ? String(pair.key.value) : ''
      const fields = new Map<string, unknown>()
      if (isMap(pair.value)) {
        for (const field of pair.value.items) {
          if (isScalar(field.key) && isScalar(field.value))
            fields.set(String(field.key.value), field.value.value)
        }
      }
      if (!fields.get('description'))
        throw new ActionMetadataError(`${key}.${name} has no description`, file)
      return read(name, fields)
    })
  }
  return {
    dir,
    name: asText(root.get('name')),
    description: asText(root.get('description')),
    inputs: section('inputs', (name, fields) => ({
      name,
      description: asText(fields.get('description')),
      required: fields.get('required') === true || fields.get('required') === 'true',
      default: fields.has('default') ? asText(fields.get('default')) : undefined
    })),
    outputs: section('outputs', (name, fields) => ({
      name,
      description: asText(fields.get('description'))
    }))
  }
}

/** The Markdown between the markers: per action, a heading, its description and two tables. */
export function renderActionTables(actions: readonly ActionDoc[]): string {
  const blocks = actions.map(action => {
    const lines = [actionHeading(action), '', cell(action.description), '']
    if (action.inputs.length) {
      lines.push('| input | required | default | description |', '| --- | --- | --- | --- |')
      for (const input of action.inputs) {
        const fallback =
          input.default === undefined || input.default === '' ? '' : code(input.default)
        lines.push(
          row([code(input.name), input.required ? 'yes' : 'no', fallback, cell(input.description)])
        )
      }
      lines.push('')
    }
    if (action.outputs.length) {
      lines.push('| output | description |', '| --- | --- |')
      for (const output of action.outputs)
        lines.push(row([code(output.name), cell(output.description)]))
      lines.push('')
    }
    return lines.join('\n')
  })
  return [
    '<!-- Generated from actions/*/action.yml by `npm run docs`; edit the action.yml files, not this. -->',
    '',
    ...blocks
  ].join('\n')
}

/** The inputs and outputs tables of README.md, from `actions/*\/action.yml`. */
export const ACTION_TABLES: GeneratedSection = {
  name: 'action tables',
  file: 'README.md',
  start: START_MARKER,
  end: END_MARKER,
  render: async root => renderActionTables(await readActionDocs(root))
}

function row(cells: readonly string[]): string {
  return `|${cells.map(text => (text ? ` ${text} ` : ' ')).join('|')}|`
}

function code(text: string): string {
  // A backtick inside needs a longer fence; none of the actions has one, but stay correct.
  const fence = text.includes('`') ? '``' : '`'
  const pad = fence.length > 1 ? ' ' : ''
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`
}
