// The discovery journey end to end on the running stack, over HTTP through the gateway: a new
// auth.users row → the signup trigger's job → the queue-worker cron command (run directly, through
// pg_net) → discovery items → the rocker-discovery-run cron command → gaps → suggestions over
// the RPC route with the user's JWT; the same for interests picked only after the signup job
// ran (the user_interests trigger queues them). Then the runbook SQL from docs/discovery.md,
// verbatim, with psql, and rocker-discovery-run's gateway contract and failure path.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { adminSql, psql, runCronJob, testStackEnv } from '../../../local/testing.ts'

const env = testStackEnv()

const INTEREST = {
  hiking: '11111111-1111-1111-1111-111111111111',
  photography: '22222222-2222-2222-2222-222222222222',
  cooking: '33333333-3333-3333-3333-333333333333',
  cycling: '44444444-4444-4444-4444-444444444444',
  gardening: '55555555-5555-5555-5555-555555555555',
} as const
const CANDIDATE = {
  daypack: 'd0000000-0000-0000-0000-000000000001',
  camera: 'd0000000-0000-0000-0000-000000000002',
  skillet: 'd0000000-0000-0000-0000-000000000003',
  tuneUp: 'd0000000-0000-0000-0000-000000000004',
  seeds: 'd0000000-0000-0000-0000-000000000005',
} as const

type Admin = ReturnType<typeof adminSql>

function userJwt(sub: string) {
  return new SignJWT({ role: 'authenticated', sub, aud: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(env.jwtSecret))
}

function rpc(fn: string, bearer: string, body: unknown) {
  return fetch(`${env.apiUrl}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      apikey: env.anonKey,
      authorization: `Bearer ${bearer}`,
    },
    body: JSON.stringify(body),
  })
}

function callFunction(name: string, body: unknown, bearer = env.serviceRoleKey) {
  return fetch(`${env.apiUrl}/functions/v1/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

/** The runbook from docs/discovery.md: the first ```sql block under "## Runbook". */
async function runbookSql(): Promise<string> {
  const doc = await Deno.readTextFile(new URL('../../../docs/discovery.md', import.meta.url))
  const section = doc.slice(doc.indexOf('## Runbook'))
  const match = /```sql\n([\s\S]*?)```/.exec(section)
  assert.ok(match, 'docs/discovery.md has the runbook SQL')
  return match[1]
}

/** Inserts the user's interests as the user (role authenticated, their claims, RLS on). */
async function pickInterests(sql: Admin, userId: string, picks: [string, number][]) {
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${
      JSON.stringify({ sub: userId, role: 'authenticated' })
    }, true)`
    for (const [interestId, affinity] of picks) {
      await tx`
        insert into public.user_interests (user_id, interest_id, affinity)
        values (${userId}, ${interestId}, ${affinity})`
    }
  })
}

Deno.test('a new user goes from signup to suggestions through the workers and the gateway', async () => {
  const sql = adminSql()
  const userId = crypto.randomUUID()
  const otherId = crypto.randomUUID()
  try {
    // 1. Signup: the trigger queues the job.
    await sql`
      insert into auth.users (id, email, created_at, email_confirmed_at)
      values (${userId}, ${`${userId}@example.test`}, now(), now()),
             (${otherId}, ${`${otherId}@example.test`}, now(), now())`
    const jobs = await sql`
      select status from public.events_queue
      where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    assert.deepEqual(jobs.map((j) => j.status), ['queued'])

    // 2. The user picks interests, as themselves (RLS applies); the user_interests trigger
    //    queues one discovery item per interest at once.
    await pickInterests(sql, userId, [
      [INTEREST.hiking, 0.9],
      [INTEREST.photography, 0.8],
      [INTEREST.cooking, 0.7],
    ])
    const picked = await sql`
      select count(*)::int as n from public.marketplace_discovery_queue
      where user_id = ${userId} and status = 'queued'`
    assert.equal(picked[0].n, 3)

    // 3. The queue-worker cron command: the signup job's handler finds the items already queued
    //    (enqueue_discovery_for_user deduplicates) and queues no second copy.
    const drained = await runCronJob(sql, 'queue-worker:discovery.user-signup')
    assert.ok(drained.processed >= 1, JSON.stringify(drained))
    const job = await sql`
      select status from public.events_queue
      where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    assert.deepEqual(job.map((j) => j.status), ['done'])
    const items = await sql`
      select interest_id, status from public.marketplace_discovery_queue
      where user_id = ${userId} order by interest_id`
    assert.deepEqual(items.map((i) => [i.interest_id, i.status]), [
      [INTEREST.hiking, 'queued'],
      [INTEREST.photography, 'queued'],
      [INTEREST.cooking, 'queued'],
    ])

    // 4. The rocker-discovery-run cron command: items done, a gap per thinly stocked category.
    const run = await runCronJob(sql, 'rocker-discovery-run')
    assert.deepEqual(Object.keys(run).sort(), [
      'duration_ms',
      'errors',
      'gaps_opened',
      'gaps_resolved',
      'processed',
    ])
    assert.ok(run.processed >= 3, JSON.stringify(run))
    const after = await sql`
      select status, leased_by from public.marketplace_discovery_queue where user_id = ${userId}`
    assert.deepEqual(after.map((i) => [i.status, i.leased_by]), [
      ['done', 'rocker-discovery-run'],
      ['done', 'rocker-discovery-run'],
      ['done', 'rocker-discovery-run'],
    ])
    const gaps = await sql`
      select interest_id, candidate_count from public.marketplace_gaps
      where resolved_at is null and interest_id in ${
      sql([INTEREST.hiking, INTEREST.photography, INTEREST.cooking])
    }
      order by interest_id`
    assert.deepEqual(gaps.map((g) => [g.interest_id, g.candidate_count]), [
      [INTEREST.hiking, 1],
      [INTEREST.photography, 1],
      [INTEREST.cooking, 1],
    ])

    // 5. Suggestions, as the user, over the gateway's RPC route.
    const token = await userJwt(userId)
    const res = await rpc('marketplace_suggestions_for_user', token, {
      p_user_id: userId,
      p_limit: 12,
    })
    const suggestions = await res.json()
    assert.equal(res.status, 200, JSON.stringify(suggestions))
    assert.deepEqual(
      suggestions.map((s: { candidate_id: string; reason: string }) => [s.candidate_id, s.reason]),
      [
        // 0.9 × (0.5 + 0.3 × 0.8/1.8 + 0.2) = 0.75; 0.8 × 0.842 = 0.674; 0.7 × 0.824 = 0.576
        [CANDIDATE.daypack, 'interest:hiking'],
        [CANDIDATE.camera, 'interest:photography'],
        [CANDIDATE.skillet, 'interest:cooking'],
      ],
    )
    assert.deepEqual(Object.keys(suggestions[0]).sort(), [
      'candidate_id',
      'category_id',
      'interest_id',
      'reason',
      'score',
      'title',
    ])

    // The same through SQL, as the operator would.
    const viaSql = await sql`
      select candidate_id from public.marketplace_suggestions_for_user(${userId}::uuid, 2)`
    assert.deepEqual(viaSql.map((r) => r.candidate_id), [CANDIDATE.daypack, CANDIDATE.camera])

    // A user cannot ask for someone else's suggestions; limits are checked.
    const other = await rpc('marketplace_suggestions_for_user', token, { p_user_id: otherId })
    assert.equal(other.status, 403)
    assert.equal((await other.json()).message, 'a user may only ask for their own suggestions')
    const badLimit = await rpc('marketplace_suggestions_for_user', token, {
      p_user_id: userId,
      p_limit: 101,
    })
    assert.equal(badLimit.status, 400)
    assert.equal((await badLimit.json()).message, 'p_limit must be between 1 and 100')
    const anon = await rpc('marketplace_suggestions_for_user', env.anonKey, { p_user_id: userId })
    assert.equal(anon.status, 404, 'anon cannot even see the function')
    await anon.body?.cancel()
  } finally {
    await sql`delete from public.events_queue
              where topic = 'discovery.user-signup'
                and payload ->> 'user_id' in (${userId}, ${otherId})`
    await sql`delete from auth.users where id in (${userId}, ${otherId})`
    await sql.end()
  }
})

Deno.test('interests picked after the signup job ran are discovered and suggested', async () => {
  const sql = adminSql()
  const userId = crypto.randomUUID()
  try {
    // Signup, and the signup job runs while the user has no interests: nothing to queue.
    await sql`
      insert into auth.users (id, email, created_at, email_confirmed_at)
      values (${userId}, ${`${userId}@example.test`}, now(), now())`
    await runCronJob(sql, 'queue-worker:discovery.user-signup')
    const job = await sql`
      select status from public.events_queue
      where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    assert.deepEqual(job.map((j) => j.status), ['done'])
    const none = await sql`
      select 1 from public.marketplace_discovery_queue where user_id = ${userId}`
    assert.equal(none.length, 0, 'no interests at signup, no discovery items')

    // Later the user picks interests (one statement each, as a client would): each is queued.
    await pickInterests(sql, userId, [[INTEREST.cycling, 0.9], [INTEREST.gardening, 0.5]])
    const items = await sql`
      select interest_id, status from public.marketplace_discovery_queue
      where user_id = ${userId} order by interest_id`
    assert.deepEqual(items.map((i) => [i.interest_id, i.status]), [
      [INTEREST.cycling, 'queued'],
      [INTEREST.gardening, 'queued'],
    ])

    // The rocker-discovery-run cron command works them off.
    const run = await runCronJob(sql, 'rocker-discovery-run')
    assert.ok(run.processed >= 2, JSON.stringify(run))
    const after = await sql`
      select status from public.marketplace_discovery_queue where user_id = ${userId}`
    assert.deepEqual(after.map((i) => i.status), ['done', 'done'])
    const gaps = await sql`
      select interest_id from public.marketplace_gaps
      where resolved_at is null and interest_id in ${
      sql([INTEREST.cycling, INTEREST.gardening])
    } order by interest_id`
    assert.deepEqual(gaps.map((g) => g.interest_id), [INTEREST.cycling, INTEREST.gardening])

    // And the user sees suggestions for them over the gateway.
    const res = await rpc('marketplace_suggestions_for_user', await userJwt(userId), {
      p_user_id: userId,
    })
    const suggestions = await res.json()
    assert.equal(res.status, 200, JSON.stringify(suggestions))
    assert.deepEqual(
      suggestions.map((s: { candidate_id: string; reason: string }) => [s.candidate_id, s.reason]),
      [
        // 0.9 × (0.5 + 0.3 × 0.6/1.6 + 0.2) = 0.73; 0.5 × (0.5 + 0.3 × 0.5/1.5 + 0.2) = 0.40
        [CANDIDATE.tuneUp, 'interest:cycling'],
        [CANDIDATE.seeds, 'interest:gardening'],
      ],
    )
  } finally {
    await sql`delete from public.events_queue
              where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    await sql`delete from auth.users where id = ${userId}`
    await sql.end()
  }
})

Deno.test('the runbook SQL in docs/discovery.md works verbatim and ends with suggestions', async () => {
  const sql = adminSql()
  try {
    const runbook = await runbookSql()
    const marker = '-- after POST /functions/v1/queue-worker'
    const cut = runbook.indexOf(marker)
    assert.ok(cut > 0, 'the runbook marks where the POSTs happen')
    const setLine = runbook.split('\n')[0]
    assert.match(setLine, /^\\set TEST_USER /)

    // Everything up to the POSTs, verbatim.
    const before = await psql(runbook.slice(0, cut))
    for (const count of ['interest_count', 'category_count', 'mapping_count', 'candidate_count']) {
      assert.match(before, new RegExp(`${count}\\s*\\n-+\\n\\s*6\\n`), `${count} is 6`)
    }

    // The two POSTs the runbook describes, through the gateway with the service key.
    const worker = await callFunction('queue-worker', {
      topic: 'discovery.user-signup',
      limit: 20,
      ttl: 120,
    })
    assert.equal(worker.status, 200, await worker.clone().text())
    await worker.body?.cancel()
    const run = await callFunction('rocker-discovery-run', undefined)
    assert.equal(run.status, 200, await run.clone().text())
    await run.body?.cancel()

    // The rest, verbatim, after the \set line it needs.
    const after = await psql(`${setLine}\n${runbook.slice(cut)}`)
    assert.match(after, /status\s*\|\s*items\s*\|\s*p95_age_sec\s*\|\s*oldest_age_sec/)
    assert.match(after, /interest_id\s*\|\s*category_id\s*\|\s*candidate_count/)
    for (const title of ['Mirrorless camera starter kit', 'Lightweight daypack 20 L']) {
      assert.ok(after.includes(title), `suggestions include ${title}:\n${after}`)
    }
    assert.match(after, /\(3 rows\)\s*$/, 'the runbook ends with the three suggestions')

    const done = await sql`
      select count(*)::int as n from public.marketplace_discovery_queue
      where user_id = '00000000-0000-0000-0000-000000000001' and status = 'done'`
    assert.ok(done[0].n >= 3)
  } finally {
    await sql`delete from public.user_interests
              where user_id = '00000000-0000-0000-0000-000000000001'`
    await sql.end()
  }
})

Deno.test('rocker-discovery-run through the gateway: 401, 403, 400, then 200', async () => {
  const none = await fetch(`${env.apiUrl}/functions/v1/rocker-discovery-run`, { method: 'POST' })
  assert.equal(none.status, 401)
  await none.body?.cancel()
  const anon = await callFunction('rocker-discovery-run', {}, env.anonKey)
  assert.equal(anon.status, 403)
  await anon.body?.cancel()
  const bad = await callFunction('rocker-discovery-run', { limit: 0 })
  assert.equal(bad.status, 400)
  assert.match((await bad.json()).error.message, /^limit: /)
  const ok = await callFunction('rocker-discovery-run', { limit: 1, ttl: 5 })
  assert.equal(ok.status, 200)
  const body = await ok.json()
  assert.equal(typeof body.duration_ms, 'number')
})

Deno.test('an item of an unknown interest fails with its error; the rest of the batch is acked', async () => {
  const sql = adminSql()
  const userId = crypto.randomUUID()
  const unknown = crypto.randomUUID()
  try {
    await sql`insert into auth.users (id, email, created_at)
              values (${userId}, ${`${userId}@example.test`}, now())`
    // The queue has no foreign key to the catalog: an interest can vanish after it was queued.
    await sql`
      insert into public.marketplace_discovery_queue (user_id, interest_id, priority) values
        (${userId}, ${unknown}, -1000), (${userId}, ${INTEREST.cooking}, -1000)`
    const res = await callFunction('rocker-discovery-run', { limit: 2, threshold: 1 })
    const body = await res.json()
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.equal(body.processed, 2)
    assert.equal(body.errors, 1)
    const rows = await sql`
      select interest_id, status, attempts, last_error from public.marketplace_discovery_queue
      where user_id = ${userId} order by status`
    assert.deepEqual(rows.map((r) => [r.interest_id, r.status, r.attempts]), [
      [INTEREST.cooking, 'done', 1],
      [unknown, 'queued', 1],
    ])
    assert.equal(rows[1].last_error, `unknown interest: ${unknown} (SQLSTATE P0002)`)
    // Threshold 1 from the body: the seeded skillet is enough, so cooking has no open gap.
    const open = await sql`
      select 1 from public.marketplace_gaps
      where interest_id = ${INTEREST.cooking} and resolved_at is null`
    assert.equal(open.length, 0)
  } finally {
    await sql`delete from auth.users where id = ${userId}`
    await sql.end()
  }
})
