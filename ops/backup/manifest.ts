// The backup folder's manifest.json: what was exported, from which snapshot, each table's row
// count and SHA-256, and which tables are done (what a resumed export skips). Written after
// every table by write-then-rename, so a kill leaves the previous complete manifest.
import { z } from 'zod'
import { createHash } from 'node:crypto'
import { UsageError } from '../connection.ts'

export const MANIFEST = 'manifest.json'
export const FORMAT = 'edge-kernel-export/1'

// An export holds user data (emails, payloads, everything in public): only the operator's OS
// user may list the folder or read a file in it. Applied at creation, so no moment exists when
// a file is readable by others; the umask can only take bits away.
export const FOLDER_MODE = 0o700
export const FILE_MODE = 0o600

const tableSchema = z.object({
  schema: z.string(),
  name: z.string(),
  /** File name inside the folder. */
  file: z.string().regex(/^[^/\\]+\.jsonl$/),
  /** Primary-key columns, the order rows are in (empty: ordered by the row's JSON text). */
  key: z.array(z.string()),
  status: z.enum(['pending', 'done']),
  rows: z.number().int().nonnegative().optional(),
  bytes: z.number().int().nonnegative().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Index into `snapshots`: which transaction the rows were read in. */
  snapshot: z.number().int().nonnegative().optional(),
  completed_at: z.string().optional(),
})

const manifestSchema = z.object({
  format: z.literal(FORMAT),
  created_at: z.string(),
  updated_at: z.string(),
  source: z.object({ server_version: z.string(), schema_version: z.string() }),
  encoding: z.string(),
  /** One per run (the first export, then each resume): when and which snapshot it read. */
  snapshots: z.array(z.object({ started_at: z.string(), txid_snapshot: z.string() })),
  /** The tables asked for with --tables; null when the export is of every table. */
  only: z.array(z.string()).nullable(),
  complete: z.boolean(),
  /** True when every table was read in one snapshot (no resume was needed). */
  consistent: z.boolean(),
  tables: z.array(tableSchema),
})

export type Manifest = z.infer<typeof manifestSchema>
export type ManifestTable = z.infer<typeof tableSchema>

export const ENCODING = 'JSON Lines, UTF-8: one row_to_json object per line, in primary-key ' +
  'order (text keys in "C" collation; no key: by the line), TimeZone UTC, IntervalStyle postgres'

/** A file name that is safe on every filesystem whatever the table is called. */
export function fileNameFor(schema: string, name: string): string {
  return `${encodeURIComponent(`${schema}.${name}`)}.jsonl`
}

export async function readManifest(folder: string): Promise<Manifest> {
  let text: string
  try {
    text = await Deno.readTextFile(`${folder}/${MANIFEST}`)
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`${folder} has no ${MANIFEST}: not an export folder`)
    }
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError(`${folder}/${MANIFEST} is not JSON`)
  }
  const result = manifestSchema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new UsageError(
      `${folder}/${MANIFEST} is not a ${FORMAT} manifest: ${
        issue.path.join('.')
      }: ${issue.message}`,
    )
  }
  return result.data
}

export async function writeManifest(folder: string, manifest: Manifest) {
  manifest.updated_at = new Date().toISOString()
  const tmp = `${folder}/${MANIFEST}.tmp`
  await Deno.writeTextFile(tmp, JSON.stringify(manifest, null, 2) + '\n', { mode: FILE_MODE })
  await Deno.rename(tmp, `${folder}/${MANIFEST}`)
}

/** A file's SHA-256 (hex), read in chunks; null when the file is missing. */
export async function fileSha256(path: string): Promise<string | null> {
  let file: Deno.FsFile
  try {
    file = await Deno.open(path)
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null
    throw err
  }
  const hash = createHash('sha256')
  for await (const chunk of file.readable) hash.update(chunk)
  return hash.digest('hex')
}

/**
 * A JSONL file's lines, a chunk at a time, hashing the bytes on the way; `digest()` gives the
 * SHA-256 once the lines are read. Throws NotFound when the file is missing.
 */
export function hashedLines(path: string) {
  const hash = createHash('sha256')
  async function* lines(): AsyncGenerator<string[]> {
    const file = await Deno.open(path)
    const decoder = new TextDecoder('utf-8', { fatal: true })
    let rest = ''
    for await (const chunk of file.readable) {
      hash.update(chunk)
      const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n')
      rest = parts.pop() ?? ''
      if (parts.length) yield parts
    }
    rest += decoder.decode()
    // A last line without its newline is still a line (and makes the checksum differ).
    if (rest) yield [rest]
  }
  return { lines, digest: () => hash.digest('hex') }
}
