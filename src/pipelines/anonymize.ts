/**
 * Anonymising a copy of production data, in the scratch database before it is swapped in (see
 * data-swap.ts), and checking that it worked: for every column an `UPDATE ... SET` of the site's
 * script assigns, no value the source had is left in that column afterwards (NULLs aside, and the
 * literal the rule itself assigns). The values (postgres: their 64-bit hashes) are set aside in
 * the scratch database itself (which holds them anyway until the script has run) and dropped
 * before the swap.
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

/** The name of the table holding a rule's (or, with `t`, a table's rules') source values. Pure. */
function checkTable(i: number | string): string {
  return `sitecycle_anonymize_check_${i}`
}

/** Where the check finds a rule's source values: a one-column query on a check table. */
export interface KeptValues {
  /** The rule (index into the script's columns). */
  rule: number
  /** The check table. */
  table: string
  /** Its column holding the rule's values (or their hashes). */
  column: string
}

/** The rules grouped by the table they update, with the check table and the hashes kept for each. */
function hashedGroups(engine: DatabaseEngine, columns: AnonymizedColumn[]) {
  const hash = engine.valueHash!
  const byTable = new Map<string, number[]>()
  for (const [i, c] of columns.entries()) byTable.set(c.table, [...(byTable.get(c.table) ?? []), i])
  return [...byTable.values()].map((rules, g) => ({
    source: columns[rules[0]].table,
    table: checkTable(`t${g}`),
    rules,
    hashes: rules.map((i, k) => `${hash(columns[i].column)} AS h${k}`).join(', ')
  }))
}

/**
 * Where the engine hashes values: one transaction (printing nothing) keeping the hashes of every
 * rule's source values, each table read once, and where the check then finds them; undefined
 * otherwise or when the script assigns nothing. Pure.
 */
function hashedSourcesPlan(
  engine: DatabaseEngine,
  columns: AnonymizedColumn[]
): { sql: string; statements: string; kept: KeptValues[] } | undefined {
  if (!engine.valueHash || !columns.length) return undefined
  const groups = hashedGroups(engine, columns)
  const sql = groups
    .map(
      g => `CREATE TABLE ${engine.quoteIdent(g.table)} AS SELECT ${g.hashes} FROM ${g.source};\n`
    )
    .join('')
  const kept = groups
    .flatMap(g => g.rules.map((rule, k) => ({ rule, table: g.table, column: `h${k}` })))
    .sort((a, b) => a.rule - b.rule)
  return { sql: `BEGIN;\n${sql}COMMIT;\n`, statements: sql, kept }
}

/**
 * The transaction keeping the source values' hashes for the script at `scriptPath` (see
 * {@link hashedSourcesPlan}), for a caller that runs it with the copy's checksums in one session
 * (`engine.checksumsThen`) and hands `kept` to {@link anonymizeAndCheck} once it succeeded.
 */
export async function sourceHashesPlan(
  engine: DatabaseEngine,
  scriptPath: string
): Promise<{ sql: string; statements: string; kept: KeptValues[] } | undefined> {
  return hashedSourcesPlan(engine, anonymizedColumns(await readFile(scriptPath, 'utf8')))
}

/** Run `sql`, true when it succeeded (a rule whose table or column is missing fails here). */
function tried(exec: Executor, engine: DatabaseEngine, db: DatabaseConfig, sql: string) {
  return engine.query(exec, db, sql).then(
    () => true,
    () => false
  )
}

/**
 * Set aside what the check compares with, before the script runs. Where the engine hashes values
 * (`valueHash`: postgres), each table is read once for all its rules and only 64-bit hashes are
 * kept (no copy, no sort of the values: a `bio` of 300 bytes costs 8); elsewhere, each rule's
 * distinct values are copied. A rule whose table or column the copy lacks is not checked here:
 * the script itself then fails on it, with the database's own words.
 */
async function keepSourceValues(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  columns: AnonymizedColumn[]
): Promise<KeptValues[]> {
  const q = (name: string) => engine.quoteIdent(name)
  const kept: KeptValues[] = []
  const hash = engine.valueHash
  if (!hash) {
    for (const [i, c] of columns.entries()) {
      const table = checkTable(i)
      const sql = `CREATE TABLE ${q(table)} AS SELECT DISTINCT ${c.column} AS v FROM ${c.table} WHERE ${c.column} IS NOT NULL;\n`
      if (await tried(exec, engine, db, sql)) kept.push({ rule: i, table, column: 'v' })
    }
    return kept
  }
  // Every table's at once, in one transaction (one client start); when a rule names a table or
  // column the copy lacks, that transaction leaves nothing and each table is tried on its own.
  const all = hashedSourcesPlan(engine, columns)
  if (all && (await tried(exec, engine, db, all.sql))) return all.kept
  for (const { source, table, rules, hashes } of hashedGroups(engine, columns)) {
    if (
      await tried(
        exec,
        engine,
        db,
        `CREATE TABLE ${q(table)} AS SELECT ${hashes} FROM ${source};\n`
      )
    ) {
      rules.forEach((i, k) => kept.push({ rule: i, table, column: `h${k}` }))
      continue
    }
    // One rule names a column the table lacks: the others are kept one by one.
    for (const i of rules) {
      const own = checkTable(i)
      const sql = `CREATE TABLE ${q(own)} AS SELECT ${hash(columns[i].column)} AS h FROM ${source};\n`
      if (await tried(exec, engine, db, sql)) kept.push({ rule: i, table: own, column: 'h' })
    }
  }
  return kept.sort((a, b) => a.rule - b.rule)
}

/**
 * For each kept rule, how many rows still hold a source value, and the check tables dropped.
 * Where the engine hashes values, one call for all (one psql start and one connection, not one
 * a rule); elsewhere one query a rule, then one DROP a table. Each rule is its own
 * `SELECT ... WHERE ... IN (SELECT ...)`, which PostgreSQL runs as a hashed semi-join. Counting
 * every rule of a table in one read (`count(*) FILTER (WHERE ... IN (SELECT ...))`) was tried
 * and dropped: there the subquery is a SubPlan, hashed only while its values fit in work_mem; at
 * 1,000,000 rows it re-read the check table for every row, for minutes (bench/README.md).
 */
async function countsLeft(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  columns: AnonymizedColumn[],
  kept: KeptValues[]
): Promise<number[]> {
  const q = (name: string) => engine.quoteIdent(name)
  const hash = engine.valueHash
  const count = (k: KeptValues) => {
    const c = columns[k.rule]
    const value = hash ? hash(c.column) : c.column
    return `SELECT COUNT(*) FROM ${c.table} WHERE ${value} IN (SELECT ${k.column} FROM ${q(k.table)} WHERE ${k.column} IS NOT NULL)${c.literal !== undefined ? ` AND ${c.column} <> ${c.literal}` : ''};\n`
  }
  const tables = [...new Set(kept.map(k => k.table))]
  if (!hash) {
    const counts: number[] = []
    for (const k of kept) counts.push(Number((await engine.query(exec, db, count(k))).trim()))
    for (const table of tables) await engine.query(exec, db, `DROP TABLE ${q(table)};\n`)
    return counts
  }
  if (!kept.length) return []
  const out = await engine.query(
    exec,
    db,
    kept.map(count).join('') + `DROP TABLE ${tables.map(q).join(', ')};\n`
  )
  const counts = out.trim().split('\n').map(Number)
  if (counts.length !== kept.length || counts.some(n => !Number.isInteger(n)))
    throw new Error(
      `the anonymisation check printed ${JSON.stringify(out)}, not ${kept.length} counts`
    )
  return counts
}

/** Seconds since `start` (Date.now()), one decimal, for the step's note. */
function seconds(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`
}

/**
 * Run the site's anonymising script on `db` (the scratch copy) and check it: every column it
 * assigns holds none of the values it held before. Throws a SitecycleError naming the script and
 * the first rule that left source values (the copy is then dropped by the caller, never swapped
 * in). Returns a note for the summary, with the time of each part, and the tables the script
 * updates (as it names them), which hold the dead rows to compact.
 */
export async function anonymizeAndCheck(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  script: { local: string; onHost: string },
  options: {
    /** The source values already kept (by {@link sourceHashesPlan}'s transaction, which succeeded). */
    keptBefore?: KeptValues[]
    /**
     * The script already ran, and succeeded, after `keptBefore` was kept (beside the copy's
     * checksums: DatabaseEngine.checksumsBesideScript); the note says how.
     */
    scriptRan?: string
    /**
     * Work on the tables the script updates (as it names them) between the script and the check
     * (the compaction, where the engine compacts first); its note joins the parts' times.
     */
    beforeCheck?: (tables: string[]) => Promise<string>
  } = {}
): Promise<{ note: string; tables: string[] }> {
  const { keptBefore, scriptRan, beforeCheck } = options
  const columns = anonymizedColumns(await readFile(script.local, 'utf8'))
  let start = Date.now()
  // Kept before for these very rules (the script read then is the script read now), or kept here.
  const before =
    keptBefore &&
    JSON.stringify(hashedSourcesPlan(engine, columns)?.kept) === JSON.stringify(keptBefore)
      ? keptBefore
      : undefined
  // A script that ran already must have run after these very rules' values were kept.
  if (scriptRan !== undefined && !before)
    throw new Error(
      'anonymizeAndCheck: the script ran, but not after the source values it is checked against were kept'
    )
  const kept = before ?? (await keepSourceValues(exec, engine, db, columns))
  const times = [
    before ? 'source values kept with the checksums' : `source values kept ${seconds(start)}`
  ]
  start = Date.now()
  if (scriptRan !== undefined) times.push(scriptRan)
  else {
    try {
      await engine.runSqlFile(exec, db, script.onHost)
    } catch (e) {
      throw scriptFailed(script.local, message(e))
    }
    times.push(`script ${seconds(start)}`)
  }
  const tables = [...new Set(columns.map(c => c.table))]
  if (beforeCheck) times.push(await beforeCheck(tables))
  start = Date.now()
  const counts = await countsLeft(exec, engine, db, columns, kept)
  for (const [n, k] of kept.entries()) {
    const c = columns[k.rule]
    if (counts[n] > 0)
      throw new SitecycleError(
        `the anonymising script ${script.local} left ${counts[n]} row(s) of ${c.table} whose ${c.column} is still as in the source (rule \`${c.rule}\`): the copy was not swapped in`,
        'anonymize'
      )
  }
  times.push(`check ${seconds(start)}`)
  const note = kept.length
    ? `${script.local}: ${kept.length} column(s) checked (${kept.map(k => `${columns[k.rule].table}.${columns[k.rule].column}`).join(', ')}; ${times.join(', ')})`
    : `${script.local} (no UPDATE ... SET to check; ${times.join(', ')})`
  return { note, tables }
}

/** The error for an anonymising script that failed on the copy, with the database's last words. */
export function scriptFailed(script: string, words: string): SitecycleError {
  return new SitecycleError(
    `the anonymising script ${script} failed on the copy of the data (nothing was swapped in): ${words}`,
    'anonymize'
  )
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  // An executor error starts with the command line and may echo the statement; the reader needs
  // the database's own last words.
  const lines = text.split('\n').filter(l => l.trim() && !/^-+$/.test(l.trim()))
  return lines.length > 1 ? lines[lines.length - 1].trim() : text
}
