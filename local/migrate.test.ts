// The seed re-application that `deno task dev` keeps on top of `supabase db push`: an edited
// seed's ledger row is dropped so the CLI runs the file again; an unchanged one is left alone.
import assert from 'node:assert/strict'
import { loadProjectConfig } from './config.ts'
import { sha256Hex } from './files.ts'
import { forgetChangedSeeds } from './migrate.ts'
import { pgBinDir } from './paths.ts'
import { adminSql, testStackEnv } from './testing.ts'

const env = testStackEnv()

Deno.test('an edited seed loses its seed_files row, an unchanged one keeps it', async () => {
  const sql = adminSql(env)
  const dir = await Deno.makeTempDir({ prefix: 'edge-kernel-seed-' })
  const unchanged = `${dir}/unchanged.sql`
  const edited = `${dir}/edited.sql`
  try {
    await Deno.writeTextFile(unchanged, 'select 1;\n')
    await Deno.writeTextFile(edited, 'select 2;\n')
    // A seed applied before: the CLI has created its ledger and recorded both files.
    await sql`create table if not exists supabase_migrations.seed_files(
      path text primary key, hash text not null)`
    await sql`insert into supabase_migrations.seed_files(path, hash) values
      (${unchanged}, ${await sha256Hex('select 1;\n')}),
      (${edited}, ${await sha256Hex('select 2 -- before the edit;\n')})`

    const binDir = pgBinDir((await loadProjectConfig()).majorVersion)
    await forgetChangedSeeds({ binDir, url: env.dbUrl }, [unchanged, edited])

    const rows = await sql<{ path: string }[]>`
      select path from supabase_migrations.seed_files where path like ${dir + '/%'}`
    assert.deepEqual(rows.map((r) => r.path), [unchanged])
  } finally {
    await sql`delete from supabase_migrations.seed_files where path like ${dir + '/%'}`
    await sql.end()
    await Deno.remove(dir, { recursive: true })
  }
})
