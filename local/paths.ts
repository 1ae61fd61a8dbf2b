// Where things live, resolved once from this file so every task works from any cwd.
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../', import.meta.url)).replace(/\/$/, '')
export const SUPABASE_DIR = `${ROOT}/supabase`
export const MIGRATIONS_DIR = `${SUPABASE_DIR}/migrations`
export const FUNCTIONS_DIR = `${SUPABASE_DIR}/functions`
export const TESTS_DIR = `${SUPABASE_DIR}/tests`
export const STACK_DIR = `${ROOT}/.local-stack`
export const BOOTSTRAP_SQL = `${ROOT}/local/bootstrap.sql`
export const TEST_HELPERS_SQL = `${TESTS_DIR}/_helpers/tests_schema.sql`

/**
 * One PostgreSQL major's binaries (postgres, psql, pg_ctl, pgbench, …), where Debian/Ubuntu's
 * packages put them: several majors can be installed side by side.
 */
export function pgBinDir(major: number): string {
  return `/usr/lib/postgresql/${major}/bin`
}
