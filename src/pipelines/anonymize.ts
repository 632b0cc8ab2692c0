/**
 * Anonymising a copy of production data, in the scratch database before it is swapped in (see
 * data-swap.ts), and checking that it worked: for every column an `UPDATE ... SET` of the site's
 * script assigns, no value the source had is left in that column afterwards (NULLs aside, and the
 * literal the rule itself assigns). The values are set aside in the scratch database itself
 * (which holds them anyway until the script has run) and dropped before the swap.
 */
import { readFile } from 'node:fs/promises'
import type { DatabaseConfig, DatabaseEngine } from '../databases/engine.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** One column an anonymising script overwrites. */
export interface AnonymizedColumn {
  /** The table as the script names it (may be schema-qualified and quoted). */
  table: string
  /** The column as the script names it (may be quoted). */
  column: string
  /** The literal the rule assigns, when it assigns one (`SET email = 'x@example.org'`). */
  literal?: string
  /** The rule in words, for errors: `UPDATE users SET email`. */
  rule: string
}

/** The script without comments, string literals kept. Pure. */
function stripComments(sql: string): string {
  let out = ''
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]
    if (c === "'" || c === '"' || c === '`') {
      const end = sql.indexOf(c, i + 1)
      const j = end < 0 ? sql.length : end
      out += sql.slice(i, j + 1)
      i = j
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? sql.length : end - 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 1
      out += ' '
    } else out += c
  }
  return out
}

/** Split at commas (or `;`) not inside quotes or parentheses. Pure. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = []
  let depth = 0
  let buf = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "'" || c === '"' || c === '`') {
      const end = text.indexOf(c, i + 1)
      const j = end < 0 ? text.length : end
      buf += text.slice(i, j + 1)
      i = j
      continue
    }
    if (c === '(') depth++
    if (c === ')') depth--
    if (c === sep && depth === 0) {
      parts.push(buf)
      buf = ''
    } else buf += c
  }
  if (buf.trim()) parts.push(buf)
  return parts
}

/** `text` up to its first WHERE, FROM or RETURNING outside quotes and parentheses. Pure. */
function untilClause(text: string): string {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === "'" || c === '"' || c === '`') {
      const end = text.indexOf(c, i + 1)
      i = end < 0 ? text.length : end
      continue
    }
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (depth === 0 && /\s/.test(c) && /^\s(WHERE|FROM|RETURNING)\b/i.test(text.slice(i)))
      return text.slice(0, i)
  }
  return text
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|\x60[^\x60]+\x60|[A-Za-z_][\w$]*)`
const UPDATE = new RegExp(
  String.raw`^\s*UPDATE\s+(?:ONLY\s+)?(${IDENT}(?:\s*\.\s*${IDENT})?)\s+(?:(?:AS\s+)?(?!SET\b)${IDENT}\s+)?SET\s+([\s\S]*)$`,
  'i'
)
const ASSIGNMENT = new RegExp(String.raw`^\s*(?:${IDENT}\s*\.\s*)?(${IDENT})\s*=\s*([\s\S]*)$`)
const LITERAL = /^\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*$/

/** The columns each `UPDATE ... SET` statement of `sql` assigns. Pure. */
export function anonymizedColumns(sql: string): AnonymizedColumn[] {
  const out: AnonymizedColumn[] = []
  for (const statement of splitTopLevel(stripComments(sql), ';')) {
    const m = UPDATE.exec(statement)
    if (!m) continue
    const table = m[1].trim()
    const assignments = splitTopLevel(untilClause(m[2]), ',')
    for (const a of assignments) {
      const am = ASSIGNMENT.exec(a)
      if (!am) continue
      const column = am[1]
      const literal = LITERAL.exec(am[2])?.[1]
      out.push({
        table,
        column,
        ...(literal !== undefined && { literal }),
        rule: `UPDATE ${table} SET ${column}`
      })
    }
  }
  return out
}

/** The name of the table holding a rule's source values while the script runs. Pure. */
function checkTable(i: number): string {
  return `sitecycle_anonymize_check_${i}`
}

/**
 * Run the site's anonymising script on `db` (the scratch copy) and check it: every column it
 * assigns holds none of the values it held before. Throws a SitecycleError naming the script and
 * the first rule that left source values (the copy is then dropped by the caller, never swapped
 * in). Returns a note for the summary.
 */
export async function anonymizeAndCheck(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  script: { local: string; onHost: string }
): Promise<string> {
  const columns = anonymizedColumns(await readFile(script.local, 'utf8'))
  const q = (name: string) => engine.quoteIdent(name)
  // A rule whose table or column the copy lacks is not checked here: the script itself then
  // fails on it, with the database's own words.
  const checked: number[] = []
  for (const [i, c] of columns.entries()) {
    const ok = await engine
      .query(
        exec,
        db,
        `CREATE TABLE ${q(checkTable(i))} AS SELECT DISTINCT ${c.column} AS v FROM ${c.table} WHERE ${c.column} IS NOT NULL;\n`
      )
      .then(
        () => true,
        () => false
      )
    if (ok) checked.push(i)
  }
  try {
    await engine.runSqlFile(exec, db, script.onHost)
  } catch (e) {
    throw new SitecycleError(
      `the anonymising script ${script.local} failed on the copy of the data (nothing was swapped in): ${message(e)}`,
      'anonymize'
    )
  }
  for (const i of checked) {
    const c = columns[i]
    const left = Number(
      (
        await engine.query(
          exec,
          db,
          `SELECT COUNT(*) FROM ${c.table} WHERE ${c.column} IN (SELECT v FROM ${q(checkTable(i))})${c.literal !== undefined ? ` AND ${c.column} <> ${c.literal}` : ''};\n`
        )
      ).trim()
    )
    if (left > 0)
      throw new SitecycleError(
        `the anonymising script ${script.local} left ${left} row(s) of ${c.table} whose ${c.column} is still as in the source (rule \`${c.rule}\`): the copy was not swapped in`,
        'anonymize'
      )
  }
  for (const i of checked) await engine.query(exec, db, `DROP TABLE ${q(checkTable(i))};\n`)
  return checked.length
    ? `${script.local}: ${checked.length} column(s) checked (${checked.map(i => `${columns[i].table}.${columns[i].column}`).join(', ')})`
    : `${script.local} (no UPDATE ... SET to check)`
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  // An executor error starts with the command line and may echo the statement; the reader needs
  // the database's own last words.
  const lines = text.split('\n').filter(l => l.trim() && !/^-+$/.test(l.trim()))
  return lines.length > 1 ? lines[lines.length - 1].trim() : text
}
