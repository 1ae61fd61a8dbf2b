// `ops release-check`: the pre-release checklist of the production tooling runbook as checks:
// RLS applied on every table (the security baseline pgTAP file, rls_role_coverage), storage
// policies present for the activity-assets bucket, the perf sanity file passing (local stack
// only, see perfSanity), migrations in sync with supabase/migrations (`supabase migration
// list`), and the smoke test passing.
import { TESTS_DIR } from '../local/paths.ts'
import { migrationList } from '../local/supabase_cli.ts'
import type { Sql, Target } from './connection.ts'
import { type Check, expect, type Progress, QUIET, runCheck } from './checks.ts'
import { proveFile } from './pgtap.ts'
import { smoke } from './smoke.ts'

export const RLS_COVERAGE_TEST = `${TESTS_DIR}/security/rls_role_coverage.test.sql`
export const PERF_SANITY_TEST = `${TESTS_DIR}/perf_sanity.test.sql`
export const ASSETS_BUCKET = 'activity-assets'

/** What each storage operation needs a policy for: read, upload, replace, delete. */
const STORAGE_COMMANDS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE']

async function prove(dbUrl: string, file: string): Promise<string> {
  const tap = await proveFile(dbUrl, file)
  return `${tap.passed}/${tap.planned} assertions passed`
}

/**
 * The bucket exists and is private, storage.objects has RLS on, and each operation has a
 * policy naming the bucket that ties the object to the signed-in user (auth.uid()), so no user
 * reaches another's files and nobody reaches them signed out.
 */
export async function storagePolicies(sql: Sql, bucket = ASSETS_BUCKET): Promise<string> {
  const [found] = await sql<{ public: boolean }[]>`
    select b.public from storage.buckets b where b.id = ${bucket}`
  expect(found, `bucket ${bucket} does not exist`)
  expect(!found.public, `bucket ${bucket} is public`)
  const [{ rls }] = await sql`
    select c.relrowsecurity as rls from pg_catalog.pg_class c
     where c.oid = 'storage.objects'::regclass`
  expect(rls, 'RLS is off on storage.objects')
  const policies = await sql<{ policyname: string; cmd: string; owner_scoped: boolean }[]>`
    select p.policyname, p.cmd,
           coalesce(p.qual, '') || coalesce(p.with_check, '') like '%auth.uid()%' as owner_scoped
      from pg_catalog.pg_policies p
     where p.schemaname = 'storage' and p.tablename = 'objects'
       and coalesce(p.qual, '') || coalesce(p.with_check, '') like ${`%'${bucket}'%`}`
  const covers = (cmd: string) =>
    policies.some((p) => (p.cmd === cmd || p.cmd === 'ALL') && p.owner_scoped)
  const uncovered = STORAGE_COMMANDS.filter((cmd) => !covers(cmd))
  expect(
    uncovered.length === 0,
    `no owner-scoped policy on storage.objects for ${bucket} covers ${uncovered.join(', ')}`,
  )
  return `private bucket; ${policies.map((p) => `${p.policyname} (${p.cmd})`).join(', ')}`
}

/** Every migration file applied and every applied migration present as a file. */
export async function migrationsInSync(dbUrl: string): Promise<string> {
  const rows = await migrationList(dbUrl)
  const notApplied = rows.filter((r) => r.local && !r.remote).map((r) => r.local)
  const noFile = rows.filter((r) => r.remote && !r.local).map((r) => r.remote)
  const problems = [
    notApplied.length ? `not applied: ${notApplied.join(', ')}` : '',
    noFile.length ? `applied but not in supabase/migrations: ${noFile.join(', ')}` : '',
  ].filter(Boolean)
  expect(problems.length === 0, problems.join('; '))
  expect(rows.length > 0, 'no migrations at all')
  return `${rows.length} migrations, local = remote`
}

/** How to run the perf sanity file when release-check does not (printed on the skip line). */
export const PERF_SANITY_LOCALLY =
  'npx --yes deno@2.9.6 task test supabase/tests/perf_sanity.test.sql'

/**
 * The perf sanity file on the local stack; skipped (and said so) on a remote target. The file
 * is not read-only: it generates tens of thousands of rows, runs ANALYZE, whose row estimates
 * (pg_class.reltuples) are written in place and survive the rollback, and runs the feature
 * hydrate, which holds the learning writers' lock exclusively until the rollback, stalling
 * every ranker insert of a live project meanwhile. What it checks, that the hot queries of
 * these migrations use their indexes at a realistic size, comes from the data it generates,
 * so the same migrations checked locally answer it without touching the project.
 */
export async function perfSanity(target: Target): Promise<string> {
  if (target.remote) {
    return `skipped on a remote target (it writes, runs ANALYZE and takes the learning ` +
      `writers' lock); run it locally on the same migrations: ${PERF_SANITY_LOCALLY}`
  }
  return await prove(target.dbUrl, PERF_SANITY_TEST)
}

async function smokePasses(sql: Sql, target: Target): Promise<string> {
  const checks = await smoke(sql, target)
  const failed = checks.filter((c) => !c.ok)
  expect(
    failed.length === 0,
    `failed: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`,
  )
  return `${checks.length} sections passed`
}

export async function releaseCheck(
  sql: Sql,
  target: Target,
  progress: Progress = QUIET,
): Promise<Check[]> {
  const checks: Check[] = []
  const run = async (name: string, fn: () => Promise<string>) =>
    checks.push(await runCheck(name, fn, progress))
  await run('RLS on every table (rls_role_coverage)', () => prove(target.dbUrl, RLS_COVERAGE_TEST))
  await run(`storage policies (${ASSETS_BUCKET})`, () => storagePolicies(sql))
  await run('perf sanity', () => perfSanity(target))
  await run('migrations in sync (supabase migration list)', () => migrationsInSync(target.dbUrl))
  await run('smoke', () => smokePasses(sql, target))
  return checks
}
