/**
 * A database's schema as compare needs it: its tables and their columns (name, type, nullable),
 * read on the host with the engine's own client (psql, mysql) or, for SQLite, a small Python
 * program. Table names follow engine.checksums (postgres: `schema.table` outside `public`), so
 * the two line up.
 */
import { mysql } from '../commands/databases/mysql.js'
import { psql } from '../commands/databases/postgres.js'
import { pythonProgram } from '../commands/databases/python-programs.js'
import { connectionOf, DEFAULT_PYTHON } from '../databases/connection.js'
import type { DatabaseConfig } from '../databases/engine.js'
import type { Executor } from '../hosts/executor.js'
import sqliteSchemaProgram from '../host/sqlite-schema.py'

/** One column of a table. */
export interface ColumnSchema {
  name: string
  /** The type as the engine names it (`integer`, `character varying(40)`, `varchar(40)`, `TEXT`). */
  type: string
  nullable: boolean
}

/** One table and its columns, in column order. */
export interface TableSchema {
  table: string
  columns: ColumnSchema[]
}

/** Tables outside the system schemas, with their columns, as one JSON array. */
export const PG_SCHEMA_SQL = `
SELECT coalesce(json_agg(json_build_array(t, c, ty, n) ORDER BY t, o), '[]'::json)
FROM (
  SELECT CASE WHEN ns.nspname = 'public' THEN cl.relname
              ELSE ns.nspname || '.' || cl.relname END AS t,
         a.attname AS c, format_type(a.atttypid, a.atttypmod) AS ty, NOT a.attnotnull AS n,
         a.attnum AS o
  FROM pg_attribute a
  JOIN pg_class cl ON cl.oid = a.attrelid
  JOIN pg_namespace ns ON ns.oid = cl.relnamespace
  WHERE cl.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
    AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname NOT LIKE 'pg\\_%'
) s;
`

/** Base tables of the current database with their columns, one JSON array (group_concat raised first). */
export const MYSQL_SCHEMA_SQL = `
SET SESSION group_concat_max_len = 1073741824;
SELECT coalesce(JSON_ARRAYAGG(JSON_ARRAY(c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE = 'YES')), '[]')
FROM (SELECT c.* FROM information_schema.COLUMNS c
      JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
      WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
      ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION) c;
`

/** argv: database file. Prints the tables (not sqlite_*) and their columns as one JSON array. */
export const SQLITE_SCHEMA_PROGRAM = sqliteSchemaProgram

/** Undo mysql --batch escaping (\\t, \\n, \\0, \\\\) of one value. */
export function unescapeMysqlBatch(text: string): string {
  return text.replace(/\\([tn0\\])/g, (_, c: string) =>
    c === 't' ? '\t' : c === 'n' ? '\n' : c === '0' ? '\0' : '\\'
  )
}

/** Group `[table, column, type, nullable]` rows into tables, keeping column order; tables sorted. */
export function groupColumns(rows: [string, string, string, boolean | number][]): TableSchema[] {
  const tables = new Map<string, ColumnSchema[]>()
  for (const [table, name, type, nullable] of rows) {
    const cols = tables.get(table) ?? []
    cols.push({ name, type, nullable: Boolean(nullable) })
    tables.set(table, cols)
  }
  return [...tables.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([table, columns]) => ({ table, columns }))
}

/** The tables and columns of a site's database, read on its host. */
export async function schemaOf(exec: Executor, db: DatabaseConfig): Promise<TableSchema[]> {
  let text: string
  if (db.engine === 'sqlite') {
    text = (
      await exec.run(pythonProgram(db.python ?? DEFAULT_PYTHON, SQLITE_SCHEMA_PROGRAM, [db.name]))
    ).stdout
  } else if (db.engine === 'postgres') {
    text = (await exec.run(psql(connectionOf(db), db.name, PG_SCHEMA_SQL))).stdout
  } else {
    text = unescapeMysqlBatch(
      (await exec.run(mysql(connectionOf(db), db.name, MYSQL_SCHEMA_SQL))).stdout.trim()
    )
  }
  return groupColumns(JSON.parse(text.trim() || '[]') as [string, string, string, boolean][])
}
