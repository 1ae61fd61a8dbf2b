// The CLI side of `ops export` and `ops import --dry-run`: options, progress on stderr (so
// stdout stays the result, JSON with --json), and the exit code (1 when a check fails).
import { type Sql, UsageError } from '../connection.ts'
import { exportDatabase, exportFolderName, type ExportProgress, formatExport } from './export.ts'
import { formatVerify, verifyExport } from './verify.ts'

/** parseArgs options these commands add to the CLI's. */
export const BACKUP_OPTIONS = {
  out: { type: 'string' },
  resume: { type: 'string' },
  tables: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
} as const

export interface BackupValues {
  out?: string
  resume?: string
  tables?: string
  'dry-run'?: boolean
  json?: boolean
}

// A line every this many rows of one table, so a long table shows it is moving.
const PROGRESS_EVERY_ROWS = 100_000

function progressPrinter() {
  let lastPrinted = 0
  return (p: ExportProgress) => {
    if (p.event === 'skip') console.error(`  ${p.table}: skipped, ${p.reason}`)
    else if (p.done) {
      console.error(`  ${p.table}: ${p.rows} rows, ${p.bytes} bytes`)
      lastPrinted = 0
    } else if (p.rows - lastPrinted >= PROGRESS_EVERY_ROWS) {
      console.error(`  ${p.table}: ${p.rows} rows so far…`)
      lastPrinted = p.rows
    }
  }
}

export async function exportCommand(sql: Sql, values: BackupValues): Promise<number> {
  const resume = values.resume
  if (resume !== undefined && values.out !== undefined) {
    throw new UsageError('--out and --resume do not go together: --resume names the folder')
  }
  const folder = resume ?? exportFolderName(values.out ?? 'backups')
  const tables = values.tables?.split(',').map((t) => t.trim()).filter(Boolean)
  // An empty selection (an unset variable in a backup script) would be a complete-looking backup
  // of nothing.
  if (tables?.length === 0) throw new UsageError('--tables names no table')
  console.error(`${resume ? 'resuming export in' : 'exporting to'} ${folder}`)
  const manifest = await exportDatabase(sql, folder, {
    resume: resume !== undefined,
    tables,
    progress: progressPrinter(),
  })
  if (values.json) {
    console.log(JSON.stringify({ folder, ...manifest }, null, 2))
  } else console.log(formatExport(folder, manifest))
  return 0
}

export async function importCommand(
  sql: Sql,
  folder: string | undefined,
  values: BackupValues,
): Promise<number> {
  if (!values['dry-run']) {
    throw new UsageError(
      'only `import --dry-run <folder>` is supported: it verifies an export against the ' +
        'database; restore a database from its point-in-time backup',
    )
  }
  if (!folder) throw new UsageError('import --dry-run needs the export folder')
  const report = await verifyExport(sql, folder, {
    progress: (table) => console.error(`  checking ${table}`),
  })
  if (values.json) console.log(JSON.stringify(report, null, 2))
  else console.log(formatVerify(report))
  return report.ok ? 0 : 1
}
