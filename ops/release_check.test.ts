// `ops release-check` against the test stack: every check passes on the migrated stack, and
// each one fails with its reason when what it checks is missing. The pgTAP runner it uses is
// tested on files that pass, fail and break.
import assert from 'node:assert/strict'
import { testStackEnv } from '../local/testing.ts'
import { withSql } from './testing.ts'
import type { Sql, Target } from './connection.ts'
import {
  migrationsInSync,
  PERF_SANITY_LOCALLY,
  perfSanity,
  releaseCheck,
  storagePolicies,
} from './release_check.ts'
import { parseTap, proveFile, withHelpers } from './pgtap.ts'

const env = testStackEnv()
const target: Target = { ...env, remote: false }

Deno.test('release-check passes every check on the migrated and seeded stack', () =>
  withSql(async (sql) => {
    const checks = await releaseCheck(sql, target)
    assert.deepEqual(checks.map((c) => c.name), [
      'RLS on every table (rls_role_coverage)',
      'storage policies (activity-assets)',
      'perf sanity',
      'migrations in sync (supabase migration list)',
      'smoke',
    ])
    for (const c of checks) assert.ok(c.ok, `${c.name}: ${c.detail}`)
    assert.match(checks[0].detail, /^(\d+)\/\1 assertions passed$/)
    // The perf file's ANALYZE of its generated rows outlives their rollback in pg_class; the
    // file analyses again afterwards, so the estimates are back to the rows really there.
    const estimates = await sql<{ rel: string; reltuples: number; rows: number }[]>`
      select 'events_queue' as rel, c.reltuples::float8 as reltuples,
             (select count(*) from public.events_queue)::int as rows
        from pg_catalog.pg_class c where c.oid = 'public.events_queue'::regclass
      union all
      select 'learning_events', c.reltuples::float8,
             (select count(*) from public.learning_events)::int
        from pg_catalog.pg_class c where c.oid = 'public.learning_events'::regclass
      union all
      select 'kernel_spans', c.reltuples::float8,
             (select count(*) from public.kernel_spans)::int
        from pg_catalog.pg_class c where c.oid = 'public.kernel_spans'::regclass`
    for (const e of estimates) {
      assert.ok(
        Math.abs(e.reltuples - e.rows) < 200,
        `${e.rel}: ${e.reltuples} estimated, ${e.rows} there`,
      )
    }
  }))

Deno.test('perf sanity is skipped on a remote target, saying why and how to run it', async () => {
  // An address nothing answers on: the skip must not even connect.
  const remote: Target = {
    ...target,
    dbUrl: 'postgresql://postgres:x@192.0.2.1:5432/postgres',
    remote: true,
  }
  const detail = await perfSanity(remote)
  assert.match(detail, /^skipped on a remote target \(it writes, runs ANALYZE/)
  assert.ok(detail.endsWith(PERF_SANITY_LOCALLY), detail)
})

Deno.test('storage policies fail for a missing bucket and for an operation with no policy', () =>
  withSql(async (sql) => {
    await assert.rejects(() => storagePolicies(sql, 'no-such-bucket'), /bucket no-such-bucket/)
    // Dropped inside a transaction that is then rolled back, so the policy is never gone.
    const rollback = new Error('rollback')
    await assert.rejects(
      () =>
        sql.begin(async (tx) => {
          await tx`drop policy legacy_buckets_delete_own on storage.objects`
          await assert.rejects(
            () => storagePolicies(tx as unknown as Sql, 'activity-assets'),
            /covers DELETE$/,
          )
          throw rollback
        }),
      (err) => err === rollback,
    )
    assert.match(await storagePolicies(sql), /legacy_buckets_delete_own \(DELETE\)/)
  }))

Deno.test('migrations are out of sync when the database records one the folder lacks', () =>
  withSql(async (sql) => {
    await sql`insert into supabase_migrations.schema_migrations (version, name, statements)
              values ('20000101000000', 'ops_release_check_test', '{}')`
    try {
      await assert.rejects(
        () => migrationsInSync(env.dbUrl),
        /applied but not in supabase\/migrations: 20000101000000/,
      )
    } finally {
      await sql`delete from supabase_migrations.schema_migrations where version = '20000101000000'`
    }
  }))

Deno.test('a pgTAP file passes only when every planned assertion passes', async () => {
  const file = await Deno.makeTempFile({ suffix: '.test.sql' })
  try {
    const write = (body: string) =>
      Deno.writeTextFile(file, `-- test\nbegin;\n${body}\nselect * from finish();\nrollback;\n`)
    await write(
      `select plan(2);\nselect ok(true, 'one');\nselect ok(tests.rls_enabled('public') is not null, 'helpers are loaded');`,
    )
    assert.deepEqual(await proveFile(env.dbUrl, file), { planned: 2, passed: 2, failures: [] })
    await write(`select plan(2);\nselect ok(true, 'one');\nselect is(1, 2, 'two');`)
    await assert.rejects(
      () => proveFile(env.dbUrl, file),
      /failed: not ok 2 - two \| Failed test 2/,
    )
    await write(`select plan(3);\nselect ok(true, 'one');`)
    await assert.rejects(() => proveFile(env.dbUrl, file), /planned 3 assertions, 1 passed/)
    await write(`select plan(1);\nselect no_such_function();`)
    await assert.rejects(
      () => proveFile(env.dbUrl, file),
      /psql stopped \(exit 3\): psql:[^ ]+ ERROR: {2}function no_such_function\(\)/,
    )
  } finally {
    await Deno.remove(file)
  }
})

Deno.test("the helpers load inside the file's own transaction", () => {
  const out = withHelpers('-- x\nbegin;\nselect plan(1);\nrollback;\n')
  assert.match(
    out,
    /^-- x\nbegin;\ncreate extension if not exists pgtap with schema extensions;\n\\i '.*tests_schema\.sql'\nselect plan\(1\);/,
  )
  assert.throws(() => withHelpers('select 1;'), /must open its transaction with `begin;`/)
  assert.deepEqual(parseTap('1..2\nok 1 - a\nnot ok 2 - b\n# Failed test 2: "b"\n#   have: 1\n'), {
    planned: 2,
    passed: 1,
    failures: ['not ok 2 - b | Failed test 2: "b" | have: 1'],
  })
})
