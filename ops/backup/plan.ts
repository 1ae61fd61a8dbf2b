// Which tables a backup holds and how each is read, shared by export and verify so both read
// a table the same way: one JSON object per row (row_to_json), in a fixed order, with the
// session settings that make the text of a row the same on every run.
import { type Sql, type Tx, UsageError } from '../connection.ts'

/**
 * The schemas this repository's migrations create tables in: the kernel and the legacy tables
 * (`public`), the kernel's internal state (`ops`) and the CI/CD figures (`metrics`). Supabase's
 * own schemas (auth, storage, …) are left to Supabase's backups: they hold password hashes and
 * files this export has no business copying.
 */
export const BACKUP_SCHEMAS = ['public', 'ops', 'metrics'] as const

export interface KeyColumn {
  column: string
  /** Text-like columns sort by collation; the order uses "C" so it is the same everywhere. */
  collatable: boolean
}

export interface PlannedTable {
  schema: string
  name: string
  /** The primary key's columns, in order; empty when the table has none. */
  key: KeyColumn[]
}

export const qualifiedName = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`

export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`

/**
 * The tables to back up, by catalog rule: every ordinary and partitioned table in
 * BACKUP_SCHEMAS that no extension owns. Partitions are read through their parent, so a row is
 * exported once. `only` narrows the plan to those qualified names (each must be in it).
 */
export async function planTables(tx: Tx, only?: string[]): Promise<PlannedTable[]> {
  const rows = await tx<{ schema: string; name: string; key: KeyColumn[] }[]>`
    select n.nspname::text as schema, c.relname::text as name,
           coalesce((select jsonb_agg(jsonb_build_object('column', a.attname::text,
                                                         'collatable', a.attcollation <> 0)
                                      order by k.ord)
                       from pg_catalog.pg_index i
                       cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
                       join pg_catalog.pg_attribute a
                         on a.attrelid = c.oid and a.attnum = k.attnum
                      where i.indrelid = c.oid and i.indisprimary), '[]'::jsonb) as key
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = any(${[...BACKUP_SCHEMAS]}::text[])
       and c.relkind in ('r', 'p')
       and not c.relispartition
       and not exists (select 1 from pg_catalog.pg_depend d
                        where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid
                          and d.deptype = 'e')
     order by 1, 2`
  const plan = rows.map((r) => ({ schema: r.schema, name: r.name, key: r.key }))
  if (!only) return plan
  const unknown = only.filter((name) => !plan.some((t) => qualifiedName(t) === name))
  if (unknown.length) {
    throw new UsageError(
      `--tables: not a backed-up table: ${unknown.join(', ')} (schemas ${
        BACKUP_SCHEMAS.join(', ')
      }, written schema.table)`,
    )
  }
  return plan.filter((t) => only.includes(qualifiedName(t)))
}

/**
 * Pins the settings that change how a row prints, for the rest of the transaction, and lifts
 * the timeouts a long read would otherwise hit between fetches (files are written in between).
 */
export async function pinSessionSettings(tx: Tx) {
  await tx`select set_config('TimeZone', 'UTC', true),
                  set_config('DateStyle', 'ISO, MDY', true),
                  set_config('IntervalStyle', 'postgres', true),
                  set_config('extra_float_digits', '1', true),
                  set_config('bytea_output', 'hex', true),
                  set_config('statement_timeout', '0', true),
                  set_config('idle_in_transaction_session_timeout', '0', true)`
}

/**
 * The table's rows as JSON lines, `batch` at a time through a cursor (never the whole table in
 * memory), in primary-key order; a table without a primary key is ordered by its rows' text.
 */
export async function* tableLines(tx: Tx, t: PlannedTable, batch: number) {
  const order = t.key.length
    ? t.key.map((k) => ident(k.column) + (k.collatable ? ' collate "C"' : '')).join(', ')
    : 'row_to_json(t)::text collate "C"'
  const query = `select row_to_json(t)::text as line from ${ident(t.schema)}.${
    ident(t.name)
  } t order by ${order}`
  for await (const rows of tx.unsafe<{ line: string }[]>(query).cursor(batch)) {
    yield rows.map((r) => r.line)
  }
}

/** Runs `fn` in one REPEATABLE READ, read-only transaction: every table from one snapshot. */
export function inSnapshot<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    await pinSessionSettings(tx)
    return await fn(tx)
  }) as Promise<T>
}
