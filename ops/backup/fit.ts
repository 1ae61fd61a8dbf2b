// `import --dry-run`'s second question: would each line of an export load into its table as the
// database is now? Every key of a line must be a column of the table (checked here, against
// the catalog's column list) and every value must convert to its column's type, which the
// server judges with jsonb_populate_recordset: the conversion an import through SQL would make.
// Lines go to the server a chunk at a time as one JSON array in one statement, never a whole
// table; only a chunk that fails is split in halves to find its bad lines, and a bad line is
// then tried column by column to name the culprit. Each statement runs in a savepoint of the
// verify's read-only transaction, so a failure costs the statement, not the check.
import type { Tx } from '../connection.ts'
import { hashedLines } from './manifest.ts'
import { ident, type PlannedTable } from './plan.ts'

/** Lines per statement, and the bytes a chunk may reach before it is sent anyway. */
export const FIT_CHUNK_LINES = 2000
const FIT_CHUNK_BYTES = 4 * 1024 * 1024

// Problems described per table. Past it the check stops: a file that does not fit at all
// would otherwise cost a round trip per line, and ten lines say enough to act on.
export const MAX_FIT_PROBLEMS = 10

interface Line {
  no: number
  text: string
  row: Record<string, unknown>
}

/** A value the column's type refused (class 22, data exception) or a domain's constraint (23). */
function refusal(err: unknown): string | null {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))) {
    return (err as Error).message
  }
  return null
}

/**
 * Why the server cannot turn the JSON array `rows` into rows of `rowType`, or null when it can.
 * `pick` narrows each object to that one key first, to judge one column.
 */
async function refused(tx: Tx, rowType: string, rows: string, pick?: string) {
  const value = pick === undefined
    ? '$1::text::jsonb'
    : `(select jsonb_agg(jsonb_build_object($2::text, e -> $2::text))
          from jsonb_array_elements($1::text::jsonb) e)`
  try {
    await tx.savepoint((sp) =>
      sp.unsafe(
        `select count(*) from jsonb_populate_recordset(null::${rowType}, ${value})`,
        pick === undefined ? [rows] : [rows, pick],
      )
    )
    return null
  } catch (err) {
    const why = refusal(err)
    if (why === null) throw err
    return why
  }
}

const asArray = (lines: Line[]) => `[${lines.map((l) => l.text).join(',')}]`

/** The lines of a chunk the server refuses (which the caller knows holds at least one). */
async function refusedLines(tx: Tx, rowType: string, lines: Line[]): Promise<Line[]> {
  if (lines.length === 1) return lines
  const half = Math.ceil(lines.length / 2)
  const [left, right] = [lines.slice(0, half), lines.slice(half)]
  if (await refused(tx, rowType, asArray(left)) === null) {
    return await refusedLines(tx, rowType, right)
  }
  const bad = await refusedLines(tx, rowType, left)
  if (await refused(tx, rowType, asArray(right)) === null) return bad
  return [...bad, ...await refusedLines(tx, rowType, right)]
}

/** For one refused line: each column whose value its type refuses, else the line's refusal. */
async function describeRefusal(tx: Tx, rowType: string, line: Line, columns: Set<string>) {
  const found: string[] = []
  for (const key of Object.keys(line.row)) {
    if (!columns.has(key)) continue
    const why = await refused(tx, rowType, `[${line.text}]`, key)
    if (why !== null) found.push(`line ${line.no}, column "${key}": ${why}`)
  }
  return found.length ? found : [`line ${line.no}: ${await refused(tx, rowType, `[${line.text}]`)}`]
}

/**
 * What in the export file at `path` would not import into table `t`: "line N, column "c": why"
 * per problem, at most MAX_FIT_PROBLEMS of them (then a last entry saying the check stopped).
 * Empty when every line fits.
 */
export async function fitProblems(
  tx: Tx,
  t: PlannedTable,
  path: string,
  chunkLines = FIT_CHUNK_LINES,
): Promise<string[]> {
  const rowType = `${ident(t.schema)}.${ident(t.name)}`
  const columns = new Set(
    (await tx<{ name: string }[]>`
      select a.attname::text as name from pg_catalog.pg_attribute a
       where a.attrelid = ${rowType}::regclass and a.attnum > 0 and not a.attisdropped`)
      .map((c) => c.name),
  )
  const problems: string[] = []
  const full = () => problems.length >= MAX_FIT_PROBLEMS
  let chunk: Line[] = []
  let chunkBytes = 0

  const flush = async () => {
    const lines = chunk
    chunk = []
    chunkBytes = 0
    if (!lines.length || await refused(tx, rowType, asArray(lines)) === null) return
    for (const line of await refusedLines(tx, rowType, lines)) {
      if (full()) return
      problems.push(...await describeRefusal(tx, rowType, line, columns))
    }
  }

  let no = 0
  let stopped = false
  read: for await (const batch of hashedLines(path).lines()) {
    for (const text of batch) {
      no++
      const row = parseObject(text)
      if (row === null) problems.push(`line ${no}: not a JSON object`)
      else {
        for (const key of Object.keys(row).filter((k) => !columns.has(k))) {
          problems.push(`line ${no}, column "${key}": the table has no such column`)
        }
        chunk.push({ no, text, row })
        chunkBytes += text.length
      }
      if (chunk.length >= chunkLines || chunkBytes >= FIT_CHUNK_BYTES) await flush()
      if (full()) {
        stopped = true
        break read
      }
    }
  }
  if (!stopped) await flush()
  // Unknown columns are found as lines are read, types when their chunk is sent: line order.
  problems.sort((a, b) => lineOf(a) - lineOf(b))
  if (stopped || problems.length > MAX_FIT_PROBLEMS) {
    problems.splice(MAX_FIT_PROBLEMS)
    problems.push(`stopped after ${MAX_FIT_PROBLEMS} problems: fix those and check again`)
  }
  return problems
}

const lineOf = (problem: string) => Number(/^line (\d+)/.exec(problem)?.[1])

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const row: unknown = JSON.parse(text)
    return row !== null && typeof row === 'object' && !Array.isArray(row)
      ? row as Record<string, unknown>
      : null
  } catch {
    return null
  }
}
