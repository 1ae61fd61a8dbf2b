// `ops export`: the weekly manual backup. Every table of the plan (plan.ts) to
// <schema>.<table>.jsonl in a timestamped folder, streamed through a cursor, with a manifest of
// row counts and SHA-256 sums. All tables come from one REPEATABLE READ snapshot; a killed
// export leaves the finished tables marked done in the manifest and the table it was writing
// as a `.partial` file, and `--resume` redoes only what is not done (in a new snapshot, which
// the manifest records).
import { createHash } from 'node:crypto'
import { type Sql, type Tx, UsageError } from '../connection.ts'
import {
  ENCODING,
  FILE_MODE,
  fileNameFor,
  fileSha256,
  FOLDER_MODE,
  FORMAT,
  type Manifest,
  type ManifestTable,
  readManifest,
  writeManifest,
} from './manifest.ts'
import { inSnapshot, type PlannedTable, planTables, qualifiedName, tableLines } from './plan.ts'

export type ExportProgress =
  | { event: 'table'; table: string; rows: number; bytes: number; done: boolean }
  | { event: 'skip'; table: string; reason: string }

export interface ExportOptions {
  /** Only these tables (schema.table); default every table of the plan. New exports only. */
  tables?: string[]
  /** Rows per cursor fetch. */
  batch?: number
  progress?: (p: ExportProgress) => void
  /** Awaited after each batch is written (tests interrupt an export here). */
  afterBatch?: (table: string, rows: number) => void | Promise<void>
}

export const DEFAULT_BATCH = 2000

/** `<parent>/export-20261202T120000Z`: sorts by time, no characters a filesystem dislikes. */
export function exportFolderName(parent: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${parent.replace(/\/$/, '')}/export-${stamp}`
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array) {
  let off = 0
  while (off < bytes.length) off += await file.write(bytes.subarray(off))
}

/** Writes one table to `<path>.partial`, then renames it into place once it is on disk. */
async function exportTable(
  tx: Tx,
  t: PlannedTable,
  path: string,
  opts: ExportOptions,
): Promise<{ rows: number; bytes: number; sha256: string }> {
  const table = qualifiedName(t)
  const partial = `${path}.partial`
  const file = await Deno.open(partial, {
    write: true,
    create: true,
    truncate: true,
    mode: FILE_MODE,
  })
  const hash = createHash('sha256')
  const encoder = new TextEncoder()
  let rows = 0
  let bytes = 0
  try {
    for await (const lines of tableLines(tx, t, opts.batch ?? DEFAULT_BATCH)) {
      const chunk = encoder.encode(lines.join('\n') + '\n')
      hash.update(chunk)
      await writeAll(file, chunk)
      rows += lines.length
      bytes += chunk.length
      opts.progress?.({ event: 'table', table, rows, bytes, done: false })
      await opts.afterBatch?.(table, rows)
    }
    await file.syncData()
  } finally {
    file.close()
  }
  await Deno.rename(partial, path)
  return { rows, bytes, sha256: hash.digest('hex') }
}

async function newManifest(tx: Tx, folder: string, tables?: string[]): Promise<Manifest> {
  const plan = await planTables(tx, tables)
  try {
    await Deno.stat(folder)
    throw new UsageError(`${folder} already exists: resume it with --resume, or pick another`)
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
  }
  await Deno.mkdir(folder, { recursive: true, mode: FOLDER_MODE })
  const [source] = await tx<{ server_version: string; schema_version: string }[]>`
    select current_setting('server_version') as server_version,
           coalesce(public.health_check() #>> '{app,version}', 'unknown') as schema_version`
  const now = new Date().toISOString()
  return {
    format: FORMAT,
    created_at: now,
    updated_at: now,
    source: { ...source },
    encoding: ENCODING,
    snapshots: [],
    only: tables ?? null,
    complete: false,
    consistent: true,
    tables: plan.map((t) => ({
      schema: t.schema,
      name: t.name,
      file: fileNameFor(t.schema, t.name),
      key: t.key.map((k) => k.column),
      status: 'pending' as const,
    })),
  }
}

/** Whether a table marked done still has the file the manifest describes. */
async function stillDone(folder: string, t: ManifestTable): Promise<boolean> {
  return t.status === 'done' && await fileSha256(`${folder}/${t.file}`) === t.sha256
}

/**
 * Exports to `folder` (created; it must not exist), or with `resume` finishes the export in
 * `folder`: tables already done whose file still matches the manifest are kept, the rest are
 * (re)written. Returns the final manifest.
 */
export async function exportDatabase(
  sql: Sql,
  folder: string,
  opts: ExportOptions & { resume?: boolean } = {},
): Promise<Manifest> {
  if (opts.resume && opts.tables) {
    throw new UsageError("--tables applies to a new export; --resume keeps the folder's tables")
  }
  return await inSnapshot(sql, async (tx) => {
    const manifest = opts.resume
      ? await readManifest(folder)
      : await newManifest(tx, folder, opts.tables)
    const plan = await planTables(tx)
    const [snap] = await tx<{ started_at: Date; txid_snapshot: string }[]>`
      select now() as started_at, pg_current_snapshot()::text as txid_snapshot`
    const snapshot = manifest.snapshots.push({
      started_at: snap.started_at.toISOString(),
      txid_snapshot: snap.txid_snapshot,
    }) - 1
    await writeManifest(folder, manifest)

    for (const entry of manifest.tables) {
      const table = qualifiedName(entry)
      if (await stillDone(folder, entry)) {
        opts.progress?.({ event: 'skip', table, reason: 'done in an earlier run' })
        continue
      }
      const planned = plan.find((t) => qualifiedName(t) === table)
      if (!planned) throw new Error(`${table} is in the manifest but not in the database`)
      const result = await exportTable(tx, planned, `${folder}/${entry.file}`, opts)
      Object.assign(entry, {
        status: 'done',
        key: planned.key.map((k) => k.column),
        ...result,
        snapshot,
        completed_at: new Date().toISOString(),
      })
      opts.progress?.({ event: 'table', table, rows: result.rows, bytes: result.bytes, done: true })
      await writeManifest(folder, manifest)
    }
    manifest.complete = true
    manifest.consistent = new Set(manifest.tables.map((t) => t.snapshot)).size <= 1
    await writeManifest(folder, manifest)
    return manifest
  })
}

/** The summary the CLI prints. */
export function formatExport(folder: string, m: Manifest): string {
  const rows = m.tables.reduce((n, t) => n + (t.rows ?? 0), 0)
  const bytes = m.tables.reduce((n, t) => n + (t.bytes ?? 0), 0)
  return `exported ${m.tables.length} tables, ${rows} rows, ${bytes} bytes to ${folder}` +
    (m.consistent ? ' (one snapshot)' : ` (${m.snapshots.length} snapshots: resumed)`)
}
