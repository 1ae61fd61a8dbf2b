// The concurrency claims of the discovery SQL API, with N separate connections (separate
// backends) calling at the same moment as service_role:
// - ensure_category_for_interest for an interest with no mapping makes exactly one category and
//   one mapping, and every caller gets that category;
// - enqueue_discovery_for_user for one user queues each interest once, and the callers' counts
//   add up to the number of interests.
// "The same moment": a locker connection holds an ACCESS EXCLUSIVE lock on the table the
// function reads first, the N calls start and queue up behind it (checked in pg_stat_activity),
// then the lock is released and they all run at once.
import assert from 'node:assert/strict'
import postgres from 'postgres'
import { adminSql, eventually, testStackEnv } from '../../../local/testing.ts'

const env = testStackEnv()
const N = 20

type Sql = postgres.Sql

/** N clients of one connection each, connected, on N distinct backends. */
async function connections(n: number): Promise<Sql[]> {
  const clients = Array.from(
    { length: n },
    () => postgres(env.dbUrl, { prepare: false, max: 1, onnotice: () => {} }),
  )
  const pids = await Promise.all(
    clients.map(async (c) => (await c<{ pid: number }[]>`select pg_backend_pid() as pid`)[0].pid),
  )
  assert.equal(new Set(pids).size, n, 'each client has its own backend')
  return clients
}

/**
 * Runs `call` on every client at once: holds `lockTable` exclusively until all N calls are
 * waiting for it (so all of them are past connection setup and inside the function's first
 * read), then releases it. Returns each call's result.
 */
async function releaseTogether<T>(
  admin: Sql,
  clients: Sql[],
  lockTable: string,
  marker: string,
  call: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T[]> {
  const locker = postgres(env.dbUrl, { prepare: false, max: 1, onnotice: () => {} })
  try {
    let calls: Promise<T[]> | undefined
    await locker.begin(async (tx) => {
      await tx.unsafe(`lock table ${lockTable} in access exclusive mode`)
      calls = Promise.all(clients.map((c) =>
        c.begin(async (t) => {
          await t`set local role service_role`
          return await call(t)
        }) as Promise<T>
      ))
      // Keep the lock until every call is blocked on it.
      await eventually(async () => {
        const [{ n }] = await admin<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like ${`%${marker}%`}
            and query not like '%pg_stat_activity%'`
        return n === clients.length ? n : null
      }, 15_000)
    })
    return await calls!
  } finally {
    await locker.end()
  }
}

Deno.test(`${N} concurrent ensure_category_for_interest calls make one category and one mapping`, async () => {
  const admin = adminSql()
  const clients = await connections(N)
  const interestId = crypto.randomUUID()
  const slug = `concurrency-${interestId.slice(0, 8)}`
  try {
    await admin`insert into public.interest_catalog (id, slug, name)
                values (${interestId}, ${slug}, 'Concurrency test interest')`

    const ids = await releaseTogether(
      admin,
      clients,
      'public.marketplace_interest_map',
      'ensure_category_for_interest',
      async (t) =>
        (await t<{ id: string }[]>`
          select public.ensure_category_for_interest(${interestId}::uuid) as id`)[0].id,
    )

    const categories = await admin<{ id: string }[]>`
      select id from public.marketplace_categories where slug = ${slug}`
    assert.equal(categories.length, 1, 'exactly one category')
    const mappings = await admin<{ category_id: string }[]>`
      select category_id from public.marketplace_interest_map where interest_id = ${interestId}`
    assert.deepEqual(mappings.map((m) => m.category_id), [categories[0].id], 'one mapping')
    assert.deepEqual(new Set(ids), new Set([categories[0].id]), 'every caller got that category')
  } finally {
    await admin`delete from public.interest_catalog where id = ${interestId}`
    await admin`delete from public.marketplace_categories where slug = ${slug}`
    await Promise.all(clients.map((c) => c.end()))
    await admin.end()
  }
})

Deno.test(`${N} concurrent enqueue_discovery_for_user calls queue each interest once`, async () => {
  const admin = adminSql()
  const clients = await connections(N)
  const userId = crypto.randomUUID()
  const interests = [
    '11111111-1111-1111-1111-111111111111',
    '22222222-2222-2222-2222-222222222222',
    '33333333-3333-3333-3333-333333333333',
    '44444444-4444-4444-4444-444444444444',
    '55555555-5555-5555-5555-555555555555',
  ]
  try {
    await admin`insert into auth.users (id, email, created_at)
                values (${userId}, ${`${userId}@example.test`}, now())`
    await admin`
      insert into public.user_interests (user_id, interest_id, affinity)
      select ${userId}, unnest(${admin.array(interests)}::uuid[]), 0.5`
    // The user_interests trigger queued them; start from an empty queue for this user so the
    // N calls race to queue every interest.
    await admin`delete from public.marketplace_discovery_queue where user_id = ${userId}`

    const counts = await releaseTogether(
      admin,
      clients,
      'public.user_interests',
      'enqueue_discovery_for_user',
      async (t) =>
        (await t<{ n: number }[]>`
          select public.enqueue_discovery_for_user(${userId}::uuid) as n`)[0].n,
    )

    const items = await admin<{ interest_id: string; n: number }[]>`
      select interest_id, count(*)::int as n from public.marketplace_discovery_queue
      where user_id = ${userId} group by interest_id order by interest_id`
    assert.deepEqual(items.map((i) => [i.interest_id, i.n]), interests.map((i) => [i, 1]))
    assert.equal(counts.reduce((a, b) => a + b, 0), interests.length, 'the counts add up')
  } finally {
    await admin`delete from public.events_queue
                where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    await admin`delete from auth.users where id = ${userId}`
    await Promise.all(clients.map((c) => c.end()))
    await admin.end()
  }
})
