// Test helper for the ops tests: a superuser connection to the test stack, closed afterwards.
import { adminSql, testStackEnv } from '../local/testing.ts'

export type AdminSql = ReturnType<typeof adminSql>

export async function withSql(fn: (sql: AdminSql) => Promise<void>, env = testStackEnv()) {
  const sql = adminSql(env)
  try {
    await fn(sql)
  } finally {
    await sql.end()
  }
}
