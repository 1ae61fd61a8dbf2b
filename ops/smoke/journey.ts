// Smoke sections E–H of the Day-0 runbook: a simulated user journey through the queue-worker
// to suggestions and a learning heartbeat, for a throwaway user made through the Auth admin
// API (the runbook borrows a real user; the smoke test must not touch one). The runbook's SQL is
// used as written, with :'TEST_USER' bound to that user. `cleanup` deletes the user and what
// was theirs, then checks that nothing is left.
import type { Sql, Target, Tx } from '../connection.ts'
import { expect } from '../checks.ts'
import {
  createConfirmedUser,
  deleteUser,
  SIGNUP_TOPIC,
  type ThrowawayUser,
} from '../throwaway_user.ts'

const INTERESTS = [
  '11111111-1111-1111-1111-111111111111',
  '22222222-2222-2222-2222-222222222222',
  '33333333-3333-3333-3333-333333333333',
]

export interface Journey {
  sql: Sql
  target: Target
  user: ThrowawayUser | null
}

function testUser(j: Journey): string {
  expect(j.user, 'no test user: section E did not create one')
  return j.user.id
}

/** E. Simulate user journey. */
export async function userJourney(j: Journey): Promise<string> {
  j.user = await createConfirmedUser(j.target, 'ops-smoke')
  const TEST_USER = j.user.id
  const { sql } = j
  await sql`
    INSERT INTO public.user_interests(user_id, interest_id, affinity)
    VALUES
      (${TEST_USER}::uuid, '11111111-1111-1111-1111-111111111111', 0.9),
      (${TEST_USER}::uuid, '22222222-2222-2222-2222-222222222222', 0.8),
      (${TEST_USER}::uuid, '33333333-3333-3333-3333-333333333333', 0.7)
    ON CONFLICT (user_id, interest_id) DO UPDATE SET affinity = EXCLUDED.affinity;`
  await sql`SELECT public.ensure_category_for_interest('11111111-1111-1111-1111-111111111111'::uuid);`
  await sql`SELECT public.enqueue_discovery_for_user(${TEST_USER}::uuid);`
  // The runbook's check lists every user's items for the three interests; the outer filter
  // (pushed into it by the planner) keeps a production queue out of the answer.
  const queued = await sql<{ interest_id: string }[]>`
    select q.interest_id from (
      SELECT * FROM public.marketplace_discovery_queue
      WHERE interest_id IN (
        '11111111-1111-1111-1111-111111111111',
        '22222222-2222-2222-2222-222222222222',
        '33333333-3333-3333-3333-333333333333'
      )
    ) q where q.user_id = ${TEST_USER}::uuid`
  const missing = INTERESTS.filter((i) => !queued.some((q) => q.interest_id === i))
  expect(missing.length === 0, `no discovery item queued for interests ${missing.join(', ')}`)
  return `user ${j.user.email}: 3 interests, 3 discovery items queued`
}

/**
 * The most F calls the worker: the runbook runs it once, which suffices unless more than 20
 * signup jobs wait ahead of the test user's (cron not caught up, or a stack whose cron is off).
 */
const MAX_WORKER_CALLS = 25

async function signupJobs(j: Journey, userId: string) {
  return await j.sql<{ status: string }[]>`
    select q.status from public.events_queue q
     where q.topic = ${SIGNUP_TOPIC} and q.payload ->> 'user_id' = ${userId}`
}

/** The runbook's curl to the queue-worker; throws unless {"processed": N, "errors": 0}. */
async function callWorker(j: Journey): Promise<number> {
  const res = await fetch(`${j.target.apiUrl}/functions/v1/queue-worker`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${j.target.serviceRoleKey}`,
    },
    body: JSON.stringify({ topic: SIGNUP_TOPIC, limit: 20, ttl: 120 }),
  })
  const text = await res.text()
  expect(res.status === 200, `queue-worker answered ${res.status}: ${text.slice(0, 300)}`)
  const body = JSON.parse(text)
  expect(typeof body.processed === 'number', `no "processed" count in ${text.slice(0, 300)}`)
  expect(body.errors === 0, `queue-worker reported ${body.errors} errors: ${text.slice(0, 300)}`)
  return body.processed
}

/**
 * F. Run worker once (HTTP), expecting {"processed": N, "errors": 0}; again while the test
 * user's signup job still waits behind others and the worker keeps finding work.
 */
export async function runWorker(j: Journey): Promise<string> {
  const userId = testUser(j)
  let processed = 0
  let calls = 0
  for (;;) {
    const n = await callWorker(j)
    processed += n
    calls++
    const jobs = await signupJobs(j, userId)
    if (n === 0 || calls >= MAX_WORKER_CALLS || jobs.every((q) => q.status === 'done')) break
  }
  return `{"processed": ${processed}, "errors": 0}` +
    (calls > 1 ? ` over ${calls} calls (a backlog was ahead of the test user's job)` : '')
}

/** G. Verify worker effects: the user's signup job done, their items queued, suggestions. */
export async function workerEffects(j: Journey): Promise<string> {
  const TEST_USER = testUser(j)
  const { sql } = j
  const health = await sql<{ status: string; items: string }[]>`
    SELECT * FROM public.vw_discovery_queue_health;`
  const gaps = await sql`SELECT * FROM public.marketplace_gaps LIMIT 10;`
  const suggestions = await sql`
    SELECT * FROM public.marketplace_suggestions_for_user(${TEST_USER}::uuid, 12);`

  const jobs = await signupJobs(j, TEST_USER)
  expect(jobs.length > 0, `no ${SIGNUP_TOPIC} job was queued for the test user`)
  // Cron may have run it first; either way F has run the worker until it was done.
  expect(
    jobs.every((q) => q.status === 'done'),
    `the test user's ${SIGNUP_TOPIC} job is ${jobs.map((q) => q.status).join(', ')}, not done`,
  )
  // The view counts every user's items; whether the worker kept the test user's is their count.
  const [{ mine }] = await sql<{ mine: number }[]>`
    select count(*)::int as mine from public.marketplace_discovery_queue q
     where q.user_id = ${TEST_USER}::uuid`
  expect(
    mine >= INTERESTS.length,
    `the test user has ${mine} discovery items, expected ${INTERESTS.length}+`,
  )
  expect(suggestions.length > 0, 'marketplace_suggestions_for_user returned no suggestions')
  const items = health.reduce((n, r) => n + Number(r.items), 0)
  return `signup job done; the test user's ${mine} discovery items (${items} in the queue); ` +
    `${gaps.length} gaps; ${suggestions.length} suggestions`
}

type PolicyRow = Record<string, unknown>

async function epsilonGreedy(tx: Tx): Promise<PolicyRow | undefined> {
  const rows = await tx`SELECT * FROM public.vw_policy_health;`
  return rows.find((r) => r.policy === 'epsilon_greedy_v1')
}

/**
 * H. Learning heartbeat: a test event shows in vw_policy_health. On a project with ranker
 * traffic the row is there already, so the test event must be seen to add to it: the counts
 * before and after the insert are read in one repeatable-read transaction, where now() (the
 * view's window) and everyone else's commits stand still, so the event adds exactly one.
 */
export async function learningHeartbeat(j: Journey): Promise<string> {
  const TEST_USER = testUser(j)
  const { before, row } = await j.sql.begin('isolation level repeatable read', async (tx) => {
    const before = Number((await epsilonGreedy(tx))?.events ?? 0)
    await tx`
      INSERT INTO public.learning_events(
        user_id, surface, candidate_id, policy, p_exp, score, explored, reward, context
      )
      VALUES(
        ${TEST_USER}::uuid,
        'feed',
        'post_abc',
        'epsilon_greedy_v1',
        0.08,
        0.42,
        false,
        0.6,
        '{}'::jsonb
      );`
    return { before, row: await epsilonGreedy(tx) }
  })
  expect(row, 'vw_policy_health has no epsilon_greedy_v1 row after the test event')
  const nulls = ['events', 'exploration_rate', 'epsilon', 'avg_reward', 'min_p_exp']
    .filter((k) => row[k] === null)
  expect(nulls.length === 0, `vw_policy_health epsilon_greedy_v1 has null ${nulls.join(', ')}`)
  expect(
    Number(row.events) === before + 1,
    `vw_policy_health counted ${before} epsilon_greedy_v1 events before the test event and ` +
      `${row.events} after it, not one more`,
  )
  return `epsilon_greedy_v1: ${row.events} events (the test event included), exploration ${
    Number(row.exploration_rate).toFixed(3)
  }, avg reward ${Number(row.avg_reward).toFixed(3)}`
}

/** Where the test user's rows live, by the column naming them; cleanup checks each is empty. */
const USER_ROWS: [string, string][] = [
  ['auth.users', 'id'],
  ['public.user_interests', 'user_id'],
  ['public.marketplace_discovery_queue', 'user_id'],
  ['public.learning_events', 'user_id'],
  ['ops.learning_reward_log', 'user_id'],
  ['public.user_features', 'user_id'],
]

/** Removes the throwaway user and what was theirs; then checks nothing of theirs is left. */
export async function cleanup(j: Journey): Promise<string> {
  if (!j.user) return 'nothing was created'
  const id = j.user.id
  const { sql } = j
  await deleteUser(j.target, sql, id)
  const left: string[] = []
  for (const [table, column] of USER_ROWS) {
    const [{ found }] = await sql<{ found: boolean }[]>`
      select exists (select 1 from ${sql(table)} t where t.${sql(column)} = ${id}) as found`
    if (found) left.push(table)
  }
  const [signup] = await sql`
    select 1 from public.events_queue q
     where q.topic = ${SIGNUP_TOPIC} and q.payload ->> 'user_id' = ${id} limit 1`
  if (signup) left.push('events_queue')
  expect(left.length === 0, `rows of the test user left in ${left.join(', ')}`)
  j.user = null
  return `test user ${id} and its rows removed`
}
