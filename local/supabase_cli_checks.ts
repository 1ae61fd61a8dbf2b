// The test task's checks with the real Supabase CLI, against the throwaway stack that `db push`
// has just migrated and seeded: plpgsql_check finds nothing, the migration history matches the
// files, and the pg_stat_statements reports run. One result per check, for the summary line.
import { dbLint, inspectDb, LINT_SCHEMAS, migrationList } from './supabase_cli.ts'

export interface CheckResult {
  name: string
  ok: boolean
  /** What to print when the check fails. */
  detail: string
}

async function settle(name: string, check: () => Promise<string>): Promise<CheckResult> {
  try {
    return { name, ok: true, detail: await check() }
  } catch (err) {
    return { name, ok: false, detail: err instanceof Error ? err.message : String(err) }
  }
}

/** Runs the checks side by side: each CLI call spends most of its time starting up. */
export function supabaseCliChecks(dbUrl: string): Promise<CheckResult[]> {
  return Promise.all([
    settle(`db lint --schema ${LINT_SCHEMAS} --level warning`, async () => {
      const findings = await dbLint(dbUrl)
      if (findings.length) throw new Error(JSON.stringify(findings, null, 2))
      return 'no findings'
    }),
    settle('migration list: local = remote', async () => {
      const rows = await migrationList(dbUrl)
      const differ = rows.filter((r) => r.local !== r.remote)
      if (rows.length === 0 || differ.length) {
        throw new Error(`local and remote differ: ${JSON.stringify(differ)} (${rows.length} rows)`)
      }
      return `${rows.length} migrations`
    }),
    ...['outliers', 'calls'].map((report) =>
      settle(`inspect db ${report}`, () => inspectDb(dbUrl, report).then(() => 'ran'))
    ),
  ])
}
