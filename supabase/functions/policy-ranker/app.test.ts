// policy-ranker against the real test database: slates and their logged propensities, safe mode
// and fail-safe flags, learning off, rewards (once, owner only, in the window, in range), bad
// bodies, the per-user rate limit, and the gateway with a user JWT.
import assert from 'node:assert/strict'
import { adminSql, signTestJwt, testStackEnv, userTestJwt } from '../../../local/testing.ts'
import { createDb } from '../_shared/db.ts'
import { createFlagStore, type FlagRow } from '../_shared/flags.ts'
import { createPolicyRankerApp, type PolicyRankerDeps } from './app.ts'
import { seededRandom } from './testing.ts'

const env = testStackEnv()
const appEnv = { JWT_SECRET: env.jwtSecret }

const CONTRACT_FLAGS: FlagRow[] = [
  { key: 'global.safe_mode', value: { enabled: false } },
  { key: 'ranker.policy', value: { version: 'epsilon_greedy_v1', epsilon: 0.2 } },
  { key: 'learning.enabled', value: { enabled: true } },
]

/** Flags as given (merged over the contract flags), without the database. */
function flagsOf(overrides: FlagRow[] = []) {
  const byKey = new Map(CONTRACT_FLAGS.map((f) => [f.key, f.value]))
  for (const f of overrides) byKey.set(f.key, f.value)
  const rows = [...byKey].map(([key, value]) => ({ key, value }))
  return createFlagStore({ load: () => Promise.resolve(rows) })
}

type Sql = ReturnType<typeof createDb>

async function withStack(
  fn: (ctx: { sql: Sql; admin: ReturnType<typeof adminSql>; userId: string }) => Promise<void>,
) {
  const sql = createDb(env.dbUrl)
  const admin = adminSql()
  const userId = crypto.randomUUID()
  try {
    await admin`insert into auth.users (id, email, created_at, email_confirmed_at)
                values (${userId}, ${`${userId}@example.test`}, now(), now())`
    await fn({ sql, admin, userId })
  } finally {
    await admin`delete from public.learning_events where user_id = ${userId}`
    await admin`delete from auth.users where id = ${userId}`
    await sql.end()
    await admin.end()
  }
}

function appFor(sql: Sql, deps: Partial<PolicyRankerDeps> = {}) {
  return createPolicyRankerApp({ sql, env: appEnv, flags: flagsOf(), ...deps })
}

async function post(
  app: ReturnType<typeof createPolicyRankerApp>,
  path: string,
  body: unknown,
  bearer: string | null,
) {
  const res = await app.request(`/policy-ranker${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, headers: res.headers, body: await res.json() }
}

/**
 * Waits, when needed, until at least 15 s are left in the current minute: the ranker's budget
 * is counted in epoch-aligned 60 s windows, and a test crossing into a new one would see its
 * count start over.
 */
async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000)
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 100))
}

const CANDIDATES = Array.from({ length: 6 }, (_, i) => ({ id: `ranker-test-${i}` }))

Deno.test('a decision answers the slate and logs one row per slot with its propensity', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const app = appFor(sql, { random: seededRandom(5) })
    const res = await post(app, '/rank', {
      surface: 'feed',
      limit: 4,
      candidates: [...CANDIDATES, { id: 'ranker-test-0' }].map((c, i) =>
        i === 1 ? { ...c, features: { badge: 'new' } } : c
      ),
    }, await userTestJwt(userId))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.policy, 'epsilon_greedy_v1')
    assert.equal(res.body.epsilon, 0.2)
    assert.equal(res.body.safe_mode, false)
    assert.equal(res.body.items.length, 4)

    const rows = await admin<
      {
        candidate_id: string
        position: number
        p_exp: number
        explored: boolean
        score: number
        surface: string
        policy: string
        context: { k: number; greedy: string; epsilon: number; features?: unknown }
      }[]
    >`
      select candidate_id, position, p_exp, explored, score, surface, policy, context
      from public.learning_events
      where decision_id = ${res.body.decision_id}::uuid and user_id = ${userId}::uuid
      order by position`
    assert.equal(rows.length, 4, 'one learning_events row per slot')
    for (const [i, row] of rows.entries()) {
      const item = res.body.items[i]
      assert.equal(row.candidate_id, item.candidate_id)
      assert.equal(row.position, i)
      assert.equal(row.surface, 'feed')
      assert.equal(row.policy, 'epsilon_greedy_v1')
      // 6 distinct candidates (the duplicate id is dropped): K = 6 − position.
      assert.equal(row.context.k, 6 - i)
      assert.equal(row.context.epsilon, 0.2)
      const greedy = row.candidate_id === row.context.greedy
      assert.equal(row.explored, !greedy)
      const expected = greedy ? 1 - 0.2 + 0.2 / row.context.k : 0.2 / row.context.k
      assert.ok(Math.abs(row.p_exp - expected) < 1e-6, `slot ${i}: p_exp ${row.p_exp}`)
      assert.ok(Math.abs(item.p_exp - expected) < 1e-12)
    }
    const withFeatures = rows.find((r) => r.candidate_id === 'ranker-test-1')
    if (withFeatures) assert.deepEqual(withFeatures.context.features, { badge: 'new' })
  })
})

Deno.test('without candidates the pool is the default one and the slate is not empty', async () => {
  await withStack(async ({ sql, userId }) => {
    const res = await post(appFor(sql), '/rank', { surface: 'feed' }, await userTestJwt(userId))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.ok(res.body.items.length > 0, 'the seeded marketplace candidates are ranked')
    assert.ok(res.body.items.length <= 12, 'limit defaults to 12')
  })
})

Deno.test('safe mode serves the fallback slate with epsilon 0, logged with p_exp 0', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const flags = flagsOf([{ key: 'global.safe_mode', value: { enabled: true } }])
    const res = await post(
      appFor(sql, { flags }),
      '/rank',
      { surface: 'feed', limit: 5 },
      await userTestJwt(userId),
    )
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.safe_mode, true)
    assert.equal(res.body.epsilon, 0)
    const fallback = await admin<{ candidate_id: string }[]>`
      select candidate_id from public.ranker_fallback_slate(p_limit => 5) order by "position"`
    assert.deepEqual(
      res.body.items.map((i: { candidate_id: string }) => i.candidate_id),
      fallback.map((r) => r.candidate_id),
    )
    assert.ok(
      res.body.items.every((i: { p_exp: number; explored: boolean }) =>
        i.p_exp === 0 && !i.explored
      ),
    )
    const logged = await admin<{ p_exp: number; explored: boolean }[]>`
      select p_exp, explored from public.learning_events
      where decision_id = ${res.body.decision_id}::uuid`
    assert.equal(logged.length, fallback.length)
    assert.ok(logged.every((r) => r.p_exp === 0 && r.explored === false))
  })
})

Deno.test('safe mode with given candidates serves them in greedy order, never explored', async () => {
  await withStack(async ({ sql, userId }) => {
    const flags = flagsOf([{ key: 'global.safe_mode', value: { enabled: true } }])
    const app = appFor(sql, { flags, random: () => 0 }) // would always explore if it could
    const token = await userTestJwt(userId)
    const first = await post(app, '/rank', { surface: 'feed', candidates: CANDIDATES }, token)
    const again = await post(app, '/rank', { surface: 'feed', candidates: CANDIDATES }, token)
    assert.equal(first.status, 200)
    const ids = (r: typeof first) =>
      r.body.items.map((i: { candidate_id: string }) => i.candidate_id)
    assert.deepEqual(ids(first), ids(again), 'deterministic')
    assert.ok(first.body.items.every((i: { p_exp: number }) => i.p_exp === 0))
  })
})

Deno.test('when flags cannot be read the ranker still answers, in safe mode', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const flags = createFlagStore({
      load: () => Promise.reject(new Error('flags unreadable')),
      onError: () => {},
    })
    const res = await post(
      appFor(sql, { flags }),
      '/rank',
      { surface: 'feed', candidates: CANDIDATES },
      await userTestJwt(userId),
    )
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.safe_mode, true)
    assert.equal(res.body.epsilon, 0)
    // Fail-safe turns learning off too: nothing is logged.
    const [{ n }] = await admin<{ n: number }[]>`
      select count(*)::int as n from public.learning_events where user_id = ${userId}::uuid`
    assert.equal(n, 0)
  })
})

Deno.test('with learning.enabled off nothing is logged', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const flags = flagsOf([{ key: 'learning.enabled', value: { enabled: false } }])
    const res = await post(
      appFor(sql, { flags }),
      '/rank',
      { surface: 'feed', candidates: CANDIDATES },
      await userTestJwt(userId),
    )
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const [{ n }] = await admin<{ n: number }[]>`
      select count(*)::int as n from public.learning_events where user_id = ${userId}::uuid`
    assert.equal(n, 0)
  })
})

Deno.test('a reward is accepted once, only from the owner, only in its window', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const app = appFor(sql)
    const token = await userTestJwt(userId)
    const ranked = await post(app, '/rank', { surface: 'feed', candidates: CANDIDATES }, token)
    const decision = ranked.body.decision_id
    const [a, b] = ranked.body.items.map((i: { candidate_id: string }) => i.candidate_id)

    const ok = await post(
      app,
      '/reward',
      { decision_id: decision, candidate_id: a, reward: 1 },
      token,
    )
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.reward, 1)
    const twice = await post(
      app,
      '/reward',
      { decision_id: decision, candidate_id: a, reward: 0 },
      token,
    )
    assert.equal(twice.status, 409)

    const strangerId = crypto.randomUUID()
    const stranger = await post(
      app,
      '/reward',
      { decision_id: decision, candidate_id: b, reward: 1 },
      await userTestJwt(strangerId),
    )
    assert.equal(stranger.status, 404, "another user's decision is not found")
    const unknown = await post(
      app,
      '/reward',
      { decision_id: crypto.randomUUID(), candidate_id: b, reward: 1 },
      token,
    )
    assert.equal(unknown.status, 404)
    const shape = (m: string) => m.replace(/[0-9a-f-]{36}/g, '<uuid>')
    assert.equal(
      shape(stranger.body.error.message),
      shape(unknown.body.error.message),
      'no hint it exists',
    )

    const outOfRange = await post(
      app,
      '/reward',
      { decision_id: decision, candidate_id: b, reward: 2 },
      token,
    )
    assert.equal(outOfRange.status, 400)

    await admin`update public.learning_events set ts = now() - interval '25 hours'
                where decision_id = ${decision}::uuid`
    const late = await post(
      app,
      '/reward',
      { decision_id: decision, candidate_id: b, reward: 1 },
      token,
    )
    assert.equal(late.status, 410, JSON.stringify(late.body))

    const [row] = await admin<{ reward: number | null }[]>`
      select reward from public.learning_events
      where decision_id = ${decision}::uuid and candidate_id = ${b}`
    assert.equal(row.reward, null, 'refused rewards wrote nothing')
  })
})

Deno.test('bad bodies are 400 naming the field; unknown fields are refused', async () => {
  await withStack(async ({ sql, userId }) => {
    const app = appFor(sql)
    const token = await userTestJwt(userId)
    const cases: [string, unknown, string][] = [
      ['/rank', {}, 'surface'],
      ['/rank', { surface: 'feed', limit: 0 }, 'limit'],
      ['/rank', { surface: 'feed', limit: 101 }, 'limit'],
      ['/rank', { surface: 'feed', candidates: [{ id: '' }] }, 'candidates[0].id'],
      ['/rank', { surface: 'feed', candidates: [{ id: 7 }] }, 'candidates[0].id'],
      [
        '/rank',
        { surface: 'feed', candidates: Array.from({ length: 501 }, (_, i) => ({ id: `c${i}` })) },
        'candidates',
      ],
      ['/rank', { surface: 'feed', limt: 3 }, 'limt'],
      ['/rank', [], 'body'],
      ['/reward', { decision_id: 'nope', candidate_id: 'a', reward: 1 }, 'decision_id'],
      [
        '/reward',
        { decision_id: crypto.randomUUID(), candidate_id: '', reward: 1 },
        'candidate_id',
      ],
      [
        '/reward',
        '{"decision_id":"' + crypto.randomUUID() + '","candidate_id":"a","reward":1e999}',
        'reward',
      ],
      ['/reward', { decision_id: crypto.randomUUID(), candidate_id: 'a', reward: 'x' }, 'reward'],
    ]
    for (const [path, body, field] of cases) {
      const res = await post(app, path, body, token)
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}`)
      assert.ok(
        res.body.error.message.includes(field),
        `${path}: "${res.body.error.message}" should name ${field}`,
      )
    }
  })
})

Deno.test('only signed-in users: no token is 401, the anon and service keys are 403', async () => {
  await withStack(async ({ sql }) => {
    const app = appFor(sql)
    const none = await post(app, '/rank', { surface: 'feed' }, null)
    assert.equal(none.status, 401)
    assert.equal(none.headers.has('www-authenticate'), true)
    assert.equal((await post(app, '/rank', { surface: 'feed' }, env.anonKey)).status, 403)
    const service = await signTestJwt({ role: 'service_role' })
    assert.equal((await post(app, '/rank', { surface: 'feed' }, service)).status, 403)
  })
})

Deno.test('each user is rate limited: over the limit is 429 with Retry-After', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const app = appFor(sql, { config: { rateLimitPerMinute: 2 } })
    const token = await userTestJwt(userId)
    const body = { surface: 'feed', candidates: CANDIDATES }
    await awayFromWindowEdge()
    try {
      assert.equal((await post(app, '/rank', body, token)).status, 200)
      assert.equal((await post(app, '/rank', body, token)).status, 200)
      const limited = await post(app, '/rank', body, token)
      assert.equal(limited.status, 429)
      assert.ok(Number(limited.headers.get('retry-after')) >= 1)
      const other = await post(app, '/rank', body, await userTestJwt(crypto.randomUUID()))
      assert.equal(other.status, 200, 'another user has their own count')
    } finally {
      await admin`delete from public.rate_limits where bucket = 'policy-ranker'`
    }
  })
})

Deno.test('a refused /rank logs nothing; the limit still answers first and covers /reward', async () => {
  await withStack(async ({ sql, admin, userId }) => {
    const app = appFor(sql, { config: { rateLimitPerMinute: 2 } })
    const token = await userTestJwt(userId)
    const body = { surface: 'feed', limit: 3, candidates: CANDIDATES }
    const logged = async () => {
      const [{ n }] = await admin<{ n: number }[]>`
        select count(*)::int as n from public.learning_events where user_id = ${userId}`
      return n
    }
    await awayFromWindowEdge()
    try {
      const first = await post(app, '/rank', body, token)
      assert.equal(first.status, 200)
      assert.equal(first.headers.get('ratelimit-limit'), '2')
      assert.equal(first.headers.get('ratelimit-remaining'), '1')
      assert.equal(first.headers.get('ratelimit-policy'), '2;w=60')
      const bad = await post(app, '/rank', { surface: 'feed', limit: 0 }, token)
      assert.equal(bad.status, 400, 'within the limit a bad body is a 400 (and is counted)')
      assert.equal(bad.headers.get('ratelimit-remaining'), '0')
      assert.equal(await logged(), 3)

      const refused = await post(app, '/rank', body, token)
      assert.equal(refused.status, 429)
      assert.equal(refused.body.error.code, 'rate_limited')
      assert.ok(Number(refused.headers.get('retry-after')) >= 1)
      assert.equal(refused.headers.get('ratelimit-remaining'), '0')
      assert.equal(await logged(), 3, 'the refused decision was scored but not logged')
      const refusedBad = await post(app, '/rank', { surface: 'feed', limit: 0 }, token)
      assert.equal(refusedBad.status, 429, 'over the limit, 429 wins over a bad body')
      const reward = await post(app, '/reward', {
        decision_id: first.body.decision_id,
        candidate_id: first.body.items[0].candidate_id,
        reward: 1,
      }, token)
      assert.equal(reward.status, 429, '/reward spends the same budget')
    } finally {
      await admin`delete from public.rate_limits where subject = ${userId}`
    }
  })
})

Deno.test('through the gateway: 401 without a token, 200 with a user JWT', async () => {
  const url = `${env.apiUrl}/functions/v1/policy-ranker/rank`
  const body = JSON.stringify({ surface: 'feed', limit: 3 })
  const headers = { 'content-type': 'application/json' }
  const anonymous = await fetch(url, { method: 'POST', headers, body })
  assert.equal(anonymous.status, 401)
  await anonymous.body?.cancel()
  const userId = crypto.randomUUID()
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${await userTestJwt(userId)}` },
    body,
  })
  const answer = await res.json()
  assert.equal(res.status, 200, JSON.stringify(answer))
  assert.ok(typeof answer.decision_id === 'string')
  const admin = adminSql()
  try {
    await admin`delete from public.learning_events where user_id = ${userId}::uuid`
    await admin`delete from public.rate_limits where subject = ${userId}`
  } finally {
    await admin.end()
  }
})
