// `ops import --dry-run <folder>`: checks an export against a database without writing
// anything. For each table: the file still has the manifest's SHA-256 and row count (nothing
// changed it since), and the database, read in one snapshot the same way export reads it,
// has the same rows in the same order (row count and SHA-256 of the same JSON lines). The file
// and the database are read side by side, a batch at a time, so a difference is named by its
// row number and key. Then the file is read once more to check it would import into the table
// as it is now (fit.ts: every key a column, every value of its column's type).
import { createHash } from 'node:crypto'
import type { Sql, Tx } from '../connection.ts'
import { hashedLines, type Manifest, type ManifestTable, readManifest } from './manifest.ts'
import { inSnapshot, type PlannedTable, planTables, qualifiedName, tableLines } from './plan.ts'
import { DEFAULT_BATCH } from './export.ts'
import { fitProblems } from './fit.ts'

export interface TableVerdict {
  table: string
  ok: boolean
  rows: { manifest: number | null; file: number | null; database: number | null }
  sha256: { manifest: string | null; file: string | null; database: string | null }
  problems: string[]
}

export interface VerifyReport {
  folder: string
  ok: boolean
  /** Problems with the export as a whole (incomplete, tables it lacks or the database lacks). */
  problems: string[]
  tables: TableVerdict[]
}

async function* each(batches: AsyncIterable<string[]>): AsyncGenerator<string> {
  for await (const batch of batches) yield* batch
}

/** The key of a row line, as `{"id": 5}`, for naming a difference; the line when keyless. */
function keyOf(line: string | undefined, key: string[]): string {
  if (line === undefined) return '(none)'
  if (!key.length) return line.length > 120 ? `${line.slice(0, 117)}...` : line
  try {
    const row = JSON.parse(line) as Record<string, unknown>
    return JSON.stringify(Object.fromEntries(key.map((k) => [k, row[k]])))
  } catch {
    return '(not JSON)'
  }
}

async function compareTable(
  tx: Tx,
  folder: string,
  entry: ManifestTable,
  planned: PlannedTable | undefined,
  batch: number,
): Promise<TableVerdict> {
  const verdict: TableVerdict = {
    table: qualifiedName(entry),
    ok: false,
    rows: { manifest: entry.rows ?? null, file: null, database: null },
    sha256: { manifest: entry.sha256 ?? null, file: null, database: null },
    problems: [],
  }
  if (entry.status !== 'done') {
    verdict.problems.push('not exported (the export was interrupted: resume it)')
    return verdict
  }
  try {
    await Deno.stat(`${folder}/${entry.file}`)
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
    verdict.problems.push(`file ${entry.file} is missing`)
    return verdict
  }
  const file = hashedLines(`${folder}/${entry.file}`)
  const dbHash = createHash('sha256')
  const fileLines = each(file.lines())
  const dbLines = planned ? each(tableLines(tx, planned, batch)) : null
  let fileRows = 0
  let dbRows = 0
  let differing = 0
  let first: string | null = null
  try {
    for (;;) {
      const [f, d] = await Promise.all([
        fileLines.next(),
        dbLines ? dbLines.next() : Promise.resolve({ done: true, value: undefined }),
      ])
      if (f.done && d.done) break
      if (!f.done) fileRows++
      if (!d.done) {
        dbRows++
        dbHash.update(d.value + '\n')
      }
      if (dbLines && f.value !== d.value) {
        differing++
        first ??= `first at row ${Math.max(fileRows, dbRows)}: export has ${
          keyOf(f.value, entry.key)
        }, database has ${keyOf(d.value, entry.key)}`
      }
    }
  } catch (err) {
    if (err instanceof TypeError && /decode/i.test(err.message)) {
      verdict.problems.push(`file ${entry.file} is not valid UTF-8`)
      return verdict
    }
    throw err
  } finally {
    // Closes the cursor when the file ended the comparison early.
    await dbLines?.return(undefined)
  }
  verdict.rows.file = fileRows
  verdict.sha256.file = file.digest()
  const where = `${differing} row position(s), ${first}`
  const fileChanged = verdict.sha256.file !== entry.sha256
  if (fileChanged) {
    verdict.problems.push(
      'file checksum differs from the manifest (the file changed after export)' +
        (differing ? `; it differs from the database in ${where}` : ''),
    )
  }
  if (fileRows !== entry.rows) {
    verdict.problems.push(`file has ${fileRows} rows, the manifest says ${entry.rows}`)
  }
  if (!planned) {
    verdict.problems.push('table is not in the database')
  } else {
    verdict.rows.database = dbRows
    verdict.sha256.database = dbHash.digest('hex')
    if (dbRows !== entry.rows) {
      verdict.problems.push(`database has ${dbRows} rows, the export ${entry.rows}`)
    }
    if (verdict.sha256.database !== entry.sha256) {
      // Positions compare the database with the file, which says where only if it is intact.
      verdict.problems.push(
        'database content differs from the export' + (fileChanged ? '' : ` in ${where}`),
      )
    }
    const key = planned.key.map((k) => k.column)
    if (key.join(',') !== entry.key.join(',')) {
      verdict.problems.push(
        `primary key is (${key.join(', ')}) in the database, (${
          entry.key.join(', ')
        }) in the export`,
      )
    }
  }
  verdict.ok = verdict.problems.length === 0
  return verdict
}

/** Verifies `folder` against the database; writes nothing anywhere. */
export async function verifyExport(
  sql: Sql,
  folder: string,
  opts: { batch?: number; progress?: (table: string) => void } = {},
): Promise<VerifyReport> {
  const manifest: Manifest = await readManifest(folder)
  return await inSnapshot(sql, async (tx) => {
    const plan = await planTables(tx)
    const problems: string[] = []
    if (!manifest.complete) problems.push('the export is incomplete: finish it with --resume')
    const exported = new Set(manifest.tables.map(qualifiedName))
    // An export of chosen tables (--tables) is judged on those; a full one must have them all.
    if (manifest.only === null) {
      for (const t of plan) {
        if (!exported.has(qualifiedName(t))) {
          problems.push(`${qualifiedName(t)} is in the database but not in the export`)
        }
      }
    }
    const tables: TableVerdict[] = []
    for (const entry of manifest.tables) {
      opts.progress?.(qualifiedName(entry))
      const planned = plan.find((t) => qualifiedName(t) === qualifiedName(entry))
      const verdict = await compareTable(tx, folder, entry, planned, opts.batch ?? DEFAULT_BATCH)
      // Only a file that was read to its end (present, UTF-8) is worth a second pass.
      if (planned && verdict.rows.file !== null) {
        const misfits = await fitProblems(tx, planned, `${folder}/${entry.file}`, opts.batch)
        verdict.problems.push(...misfits.map((p) => `would not import: ${p}`))
        verdict.ok = verdict.problems.length === 0
      }
      tables.push(verdict)
    }
    return {
      folder,
      ok: problems.length === 0 && tables.every((t) => t.ok),
      problems,
      tables,
    }
  })
}

/** One line per table and per problem, then the verdict. */
export function formatVerify(r: VerifyReport): string {
  const lines = r.tables.map((t) =>
    t.ok
      ? `ok   ${t.table}: ${t.rows.database} rows, sha256 ${t.sha256.database?.slice(0, 12)}`
      : `FAIL ${t.table}: ${t.problems.join('; ')}`
  )
  for (const p of r.problems) lines.push(`FAIL ${p}`)
  const bad = r.tables.filter((t) => !t.ok).length
  lines.push(
    r.ok
      ? `${r.folder} matches the database (${r.tables.length} tables); nothing was written`
      : `${r.folder} does not match: ${bad} of ${r.tables.length} tables differ` +
        (r.problems.length ? `, ${r.problems.length} other problem(s)` : '') +
        '; nothing was written',
  )
  return lines.join('\n')
}
