// Smoke sections A–D of the Day-0 runbook: read-only queries, each the runbook's SQL as written
// (one exception, noted at A), each judged as the runbook says.
import type { Sql } from '../connection.ts'
import { expect } from '../checks.ts'

/** The five tables A names; the kernel does not work without any of them. */
export const CRITICAL_TABLES = [
  'events_queue',
  'feature_flags',
  'learning_events',
  'marketplace_discovery_queue',
  'rate_limits',
]

/** The tables A expects policies on. */
export const POLICY_TABLES = [
  'intent_signals',
  'learning_events',
  'marketplace_discovery_queue',
  'rate_limits',
  'user_interests',
]

/** What D expects of each seeded catalog on day 0 (catalogs only grow after that). */
export const SEED_MINIMUM = 6

/** A. Schema & RLS verification. */
export async function schemaAndRls(sql: Sql): Promise<string> {
  const tables = await sql<{ table_name: string }[]>`
    SELECT table_name FROM information_schema.tables
    WHERE table_schema='public'
    AND table_name IN (
      'learning_events',
      'rate_limits',
      'marketplace_discovery_queue',
      'events_queue',
      'feature_flags'
    )
    ORDER BY table_name;`
  const found = new Set(tables.map((t) => t.table_name))
  const missing = CRITICAL_TABLES.filter((t) => !found.has(t))
  expect(missing.length === 0, `expected 5 critical tables, missing: ${missing.join(', ')}`)

  // The runbook selects `relname, polname` from pg_policies, which names those columns
  // tablename and policyname (relname/polname are pg_class's and pg_policy's): as written it
  // fails on every Postgres, so the columns are aliased back to the runbook's names.
  const policies = await sql<{ relname: string; polname: string }[]>`
    SELECT tablename AS relname, policyname AS polname
    FROM pg_policies
    WHERE schemaname='public'
    AND tablename IN (
      'user_interests',
      'intent_signals',
      'marketplace_discovery_queue',
      'learning_events',
      'rate_limits'
    )
    ORDER BY relname, polname;`
  const withPolicies = new Set(policies.map((p) => p.relname))
  const bare = POLICY_TABLES.filter((t) => !withPolicies.has(t))
  expect(bare.length === 0, `no RLS policies on ${bare.join(', ')}`)

  // A policy on a table whose RLS is off protects nothing; the runbook takes it for granted.
  const rlsOff = await sql<{ relname: string }[]>`
    select c.relname from pg_catalog.pg_class c
     where c.relnamespace = 'public'::regnamespace
       and c.relname = any(${[...new Set([...CRITICAL_TABLES, ...POLICY_TABLES])]}::text[])
       and not c.relrowsecurity
     order by 1`
  expect(rlsOff.length === 0, `RLS is off on ${rlsOff.map((r) => r.relname).join(', ')}`)
  return `5 critical tables; ${policies.length} policies on the 5 tables; RLS on`
}

/** B. Queue health (empty is fine at t0; the views must answer). */
export async function queueHealth(sql: Sql): Promise<string> {
  const discovery = await sql<{ status: string; items: string }[]>`
    SELECT * FROM public.vw_discovery_queue_health;`
  const dead = await sql`SELECT * FROM public.vw_dead_letter_queue LIMIT 5;`
  const events = await sql<{ items: string }[]>`SELECT * FROM public.vw_events_queue_health;`
  const statuses = discovery.map((r) => r.status)
  for (const status of ['queued', 'processing', 'done', 'error']) {
    expect(statuses.includes(status), `vw_discovery_queue_health has no '${status}' row`)
  }
  const count = (rows: { items: string }[]) => rows.reduce((n, r) => n + Number(r.items), 0)
  return `discovery ${statuses.map((s, i) => `${s} ${discovery[i].items}`).join(', ')}; ` +
    `events ${count(events)} items; ${dead.length ? `${dead.length}+` : 'no'} dead letters`
}

/** C. Learning system alive (empty is fine at t0; the views must answer). */
export async function learningViews(sql: Sql): Promise<string> {
  const policy = await sql`SELECT * FROM public.vw_policy_health;`
  const burn = await sql`SELECT * FROM public.vw_slo_burnrate;`
  const slos = await sql`SELECT * FROM public.vw_kernel_slos;`
  return `vw_policy_health ${policy.length} rows, vw_slo_burnrate ${burn.length}, ` +
    `vw_kernel_slos ${slos.length}`
}

/** D. Seed data verification: 6 interests, categories, mappings and candidates. */
export async function seedCounts(sql: Sql): Promise<string> {
  const [{ interest_count }] =
    await sql`SELECT COUNT(*) AS interest_count FROM public.interest_catalog;`
  const [{ category_count }] =
    await sql`SELECT COUNT(*) AS category_count FROM public.marketplace_categories;`
  const [{ mapping_count }] =
    await sql`SELECT COUNT(*) AS mapping_count FROM public.marketplace_interest_map;`
  const [{ candidate_count }] =
    await sql`SELECT COUNT(*) AS candidate_count FROM public.marketplace_candidates;`
  const counts = {
    interests: Number(interest_count),
    categories: Number(category_count),
    mappings: Number(mapping_count),
    candidates: Number(candidate_count),
  }
  const short = Object.entries(counts).filter(([, n]) => n < SEED_MINIMUM)
  const text = Object.entries(counts).map(([name, n]) => `${n} ${name}`).join(', ')
  expect(short.length === 0, `expected at least ${SEED_MINIMUM} of each, got ${text}`)
  return text
}
