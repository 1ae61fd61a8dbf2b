// `ops smoke` against the test stack: it passes on a freshly migrated and seeded stack, leaves
// the tables it touches as it found them, and when one part of the system is broken (each
// section in turn, restored afterwards) it fails naming that section and still cleans up.
import assert from 'node:assert/strict'
import { testStackEnv } from '../local/testing.ts'
import { type AdminSql, withSql } from './testing.ts'
import type { Target } from './connection.ts'
import { smoke, SMOKE_SECTIONS } from './smoke.ts'
import { appendix, safeModeToggle } from './smoke/rolled_back.ts'
import { main } from './cli.ts'

const env = testStackEnv()
const target: Target = { ...env, remote: false }

/** Row counts, and the flag values, of everything smoke writes to. */
async function snapshot(sql: AdminSql) {
  const [row] = await sql`
    select (select count(*) from auth.users)::int as users,
           (select count(*) from public.user_interests)::int as user_interests,
           (select count(*) from public.marketplace_discovery_queue)::int as discovery_queue,
           (select count(*) from public.events_queue)::int as events_queue,
           (select count(*) from public.learning_events)::int as learning_events,
           (select count(*) from public.marketplace_categories)::int as categories,
           (select count(*) from public.marketplace_gaps)::int as gaps,
           (select count(*) from public.ai_action_ledger)::int as ledger,
           (select count(*) from public.candidate_features)::int as candidate_features,
           (select count(*) from public.user_features)::int as user_features,
           (select count(*) from ops.learning_reward_log)::int as reward_log,
           (select count(*) from public.rate_limits)::int as rate_limits,
           (select count(*) from public.intent_signals)::int as intent_signals,
           (select jsonb_object_agg(f.key, f.value) from public.feature_flags f) as flags`
  return { ...row }
}

Deno.test('smoke passes every section on the freshly reset stack and leaves no trace', () =>
  withSql(async (sql) => {
    const before = await snapshot(sql)
    const checks = await smoke(sql, target)
    for (const c of checks) assert.ok(c.ok, `${c.name}: ${c.detail}`)
    assert.deepEqual(
      checks.map((c) => c.name),
      [...SMOKE_SECTIONS.map(([name]) => name), 'cleanup'],
    )
    assert.deepEqual(await snapshot(sql), before)
  }))

Deno.test('the CLI prints one line per section and exits 0; --json carries the same', async () => {
  assert.equal(await main(['smoke']), 0)
  assert.equal(await main(['smoke', '--json']), 0)
})

interface Break {
  /** The section's name as smoke reports it. */
  section: string
  breakIt(sql: AdminSql): Promise<unknown>
  restore(sql: AdminSql): Promise<unknown>
  /** What the failing line must say. */
  reason: RegExp
}

const MUSIC = '66666666-6666-6666-6666-666666666666'

/** One way to break each section, and how to put it back exactly. */
const BREAKS: Break[] = [
  {
    section: 'A schema and RLS',
    breakIt: (sql) => sql`alter table public.rate_limits rename to rate_limits_smoke_broken`,
    restore: (sql) => sql`alter table public.rate_limits_smoke_broken rename to rate_limits`,
    reason: /missing: rate_limits/,
  },
  {
    section: 'B queue health',
    breakIt: (sql) =>
      sql`alter view public.vw_dead_letter_queue rename to vw_dead_letter_queue_smoke_broken`,
    restore: (sql) =>
      sql`alter view public.vw_dead_letter_queue_smoke_broken rename to vw_dead_letter_queue`,
    reason: /vw_dead_letter_queue/,
  },
  {
    section: 'C learning system alive',
    breakIt: (sql) => sql`alter view public.vw_kernel_slos rename to vw_kernel_slos_smoke_broken`,
    restore: (sql) => sql`alter view public.vw_kernel_slos_smoke_broken rename to vw_kernel_slos`,
    reason: /vw_kernel_slos/,
  },
  {
    section: 'D seed data',
    breakIt: async (sql) => {
      ;[removedMapping] = await sql`
        delete from public.marketplace_interest_map m where m.interest_id = ${MUSIC}
        returning m.interest_id, m.category_id, m.created_at`
    },
    restore: (sql) => sql`insert into public.marketplace_interest_map ${sql(removedMapping!)}`,
    reason: /expected at least 6 of each, got 6 interests, 6 categories, 5 mappings/,
  },
  {
    section: 'E simulated user journey',
    breakIt: (sql) =>
      sql`alter function public.enqueue_discovery_for_user(uuid)
            rename to enqueue_discovery_for_user_smoke_broken`,
    restore: (sql) =>
      sql`alter function public.enqueue_discovery_for_user_smoke_broken(uuid)
            rename to enqueue_discovery_for_user`,
    reason: /enqueue_discovery_for_user.*does not exist/,
  },
  {
    section: 'F queue-worker over HTTP',
    breakIt: (sql) =>
      sql`insert into public.events_queue (topic, payload)
          values ('discovery.user-signup', '{"user_id": "smoke-broken"}')`,
    restore: (sql) =>
      sql`delete from public.events_queue where payload ->> 'user_id' = 'smoke-broken'`,
    reason: /queue-worker reported 1 errors/,
  },
  {
    section: 'G worker effects',
    breakIt: (sql) =>
      sql`update public.feature_flags set value = '{"enabled": false}'
           where key = 'marketplace.suggest'`,
    restore: (sql) =>
      sql`update public.feature_flags set value = '{"enabled": true}'
           where key = 'marketplace.suggest'`,
    reason: /returned no suggestions/,
  },
  {
    section: 'H learning heartbeat',
    breakIt: (sql) =>
      sql`alter table public.learning_events add constraint smoke_broken
            check (surface is distinct from 'feed') not valid`,
    restore: (sql) => sql`alter table public.learning_events drop constraint smoke_broken`,
    reason: /smoke_broken/,
  },
  {
    section: 'safe-mode toggle',
    breakIt: (sql) =>
      sql`alter table public.feature_flags add constraint smoke_broken
            check (key <> 'global.safe_mode' or value = '{"enabled": false}') not valid`,
    restore: (sql) => sql`alter table public.feature_flags drop constraint smoke_broken`,
    reason: /smoke_broken/,
  },
  {
    section: 'appendix: requeue, DLQ, GC, ledger',
    breakIt: (sql) =>
      sql`alter function public.gc_intent_signals() rename to gc_intent_signals_smoke_broken`,
    restore: (sql) =>
      sql`alter function public.gc_intent_signals_smoke_broken() rename to gc_intent_signals`,
    reason: /gc_intent_signals.*does not exist/,
  },
]
let removedMapping: Record<string, unknown> | undefined

Deno.test('every section has a way to break it here', () => {
  assert.deepEqual(BREAKS.map((b) => b.section), SMOKE_SECTIONS.map(([name]) => name))
})

Deno.test('smoke fails naming the section that is broken, and still cleans up', async (t) => {
  for (const b of BREAKS) {
    await t.step(b.section, () =>
      withSql(async (sql) => {
        const before = await snapshot(sql)
        await b.breakIt(sql)
        let checks
        try {
          checks = await smoke(sql, target)
        } finally {
          await b.restore(sql)
        }
        const section = checks.find((c) => c.name === b.section)!
        assert.equal(section.ok, false, `${b.section} passed while broken: ${section.detail}`)
        assert.match(section.detail, b.reason)
        const cleanup = checks.find((c) => c.name === 'cleanup')!
        assert.ok(cleanup.ok, cleanup.detail)
        const after = await snapshot(sql)
        // The F break's bad job was deleted by restore; flags are back; nothing else changed.
        assert.deepEqual({ ...after, ledger: 0 }, { ...before, ledger: 0 })
      }))
  }
})

Deno.test('the rolled-back sections give up within seconds when a lock they need is held', () =>
  withSql(async (sql) => {
    const holder = await sql.reserve()
    try {
      // A worker's long transaction on the queue, and an operator's open edit of the flag.
      await holder`begin`
      await holder`lock table public.marketplace_discovery_queue in share mode`
      await holder`select 1 from public.feature_flags where key = 'global.safe_mode' for update`
      const journey = {
        sql,
        target,
        user: { id: crypto.randomUUID(), email: 'nobody@example.com', password: 'x' },
      }
      for (const section of [appendix, safeModeToggle]) {
        const started = performance.now()
        await assert.rejects(() => section(journey), /lock timeout/)
        assert.ok(performance.now() - started < 10_000, `${section.name} waited too long`)
      }
    } finally {
      await holder`rollback`
      holder.release()
    }
  }))
