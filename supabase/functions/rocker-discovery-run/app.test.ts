// The handler through app.request: service_role only, body validation naming the field, the
// threshold from config or body, the answer's shape, and a failing assessment answering 500.
// The queue and the assessment are in memory here; journey.test.ts runs the function against
// the real database, through the gateway.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { createDb } from '../_shared/db.ts'
import type { DiscoveryItem, LeasedQueue } from '../_shared/lease.ts'
import { createDiscoveryRunApp } from './app.ts'
import type { AssessInterests } from './run.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
// Never connected to: the injected queue and assessment replace every query.
const sql = createDb('postgres://postgres:postgres@127.0.0.1:1/postgres')

function token(role: string, sub?: string) {
  return new SignJWT(sub ? { role, sub } : { role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

const NOW = new Date()
const ITEM: DiscoveryItem = {
  id: '1',
  interest_id: 'a',
  user_id: '00000000-0000-0000-0000-000000000001',
  status: 'processing',
  attempts: 1,
  max_attempts: 5,
  priority: 0,
  run_at: NOW,
  lease_token: null,
  lease_expires_at: null,
  leased_by: null,
  last_error: null,
  created_at: NOW,
  updated_at: NOW,
}

/**
 * A queue holding `items` and an assessment finding one gap per interest (or failing with
 * `assessError`); records the thresholds and lease arguments they were given, and the fails.
 */
function fakeDiscovery(items: DiscoveryItem[] = [], assessError?: Error) {
  const seen = { thresholds: [] as number[], leases: [] as [number, number][], failed: 0 }
  const pending = [...items]
  const queue: LeasedQueue<DiscoveryItem> = {
    name: 'fake',
    lease: ({ limit, ttlSeconds }) => {
      seen.leases.push([limit, ttlSeconds])
      const taken = pending.splice(0, limit)
      return Promise.resolve({ token: taken.length ? 't' : null, rows: taken })
    },
    ack: (ids) => Promise.resolve(ids.length),
    fail: (ids) => Promise.resolve(seen.failed += ids.length),
    release: (ids) => Promise.resolve(ids.length),
  }
  const assess: AssessInterests = (ids, threshold) => {
    seen.thresholds.push(threshold)
    if (assessError) return Promise.reject(assessError)
    return Promise.resolve(ids.map((interest_id) => ({
      interest_id,
      ok: true,
      error: null,
      gaps_opened: 1,
      gaps_resolved: 0,
    })))
  }
  return { fake: { queue, assess }, seen }
}

type Fake = ReturnType<typeof fakeDiscovery>['fake']

/** The app as index.ts wires it, with the project's JWT secret in env and the fakes injected. */
function app(fake: Fake, gapThreshold = 3) {
  return createDiscoveryRunApp({
    sql,
    env: { JWT_SECRET: SECRET },
    config: { gapThreshold },
    ...fake,
  })
}

async function post(
  a: ReturnType<typeof app>,
  body: string | undefined,
  authorization?: string,
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (authorization) headers.authorization = authorization
  const res = await a.request('/rocker-discovery-run', { method: 'POST', headers, body })
  return { status: res.status, body: await res.json() }
}

Deno.test('a request without a token is 401', async () => {
  const res = await post(app(fakeDiscovery().fake), '{}')
  assert.equal(res.status, 401)
  assert.equal(res.body.error.code, 'unauthorized')
})

Deno.test('the anon key and user tokens are 403', async () => {
  for (
    const t of [await token('anon'), await token('authenticated', crypto.randomUUID())]
  ) {
    const res = await post(app(fakeDiscovery().fake), '{}', `Bearer ${t}`)
    assert.equal(res.status, 403)
    assert.equal(res.body.error.message, 'This endpoint requires the service_role key')
  }
})

Deno.test('an empty body runs with the defaults (limit 100, ttl 120, threshold from config)', async () => {
  const { fake, seen } = fakeDiscovery([ITEM])
  const res = await post(app(fake, 4), undefined, `Bearer ${await token('service_role')}`)
  assert.equal(res.status, 200)
  assert.deepEqual(Object.keys(res.body).sort(), [
    'duration_ms',
    'errors',
    'gaps_opened',
    'gaps_resolved',
    'processed',
  ])
  assert.equal(res.body.processed, 1)
  assert.equal(res.body.gaps_opened, 1)
  assert.deepEqual(seen.leases[0], [100, 120])
  assert.deepEqual(seen.thresholds, [4])
})

Deno.test('limit, ttl and threshold from the body are used', async () => {
  const { fake, seen } = fakeDiscovery([ITEM])
  const res = await post(
    app(fake),
    JSON.stringify({ limit: 7, ttl: 30, threshold: 9 }),
    `Bearer ${await token('service_role')}`,
  )
  assert.equal(res.status, 200)
  assert.deepEqual(seen.leases[0], [7, 30])
  assert.deepEqual(seen.thresholds, [9])
})

Deno.test('bad bodies are 400 naming the field', async () => {
  const auth = `Bearer ${await token('service_role')}`
  const cases: [string, string][] = [
    ['{"limit": 0}', 'limit'],
    ['{"limit": 1001}', 'limit'],
    ['{"limit": 2.5}', 'limit'],
    ['{"limit": "10"}', 'limit'],
    ['{"ttl": 4}', 'ttl'],
    ['{"ttl": 3601}', 'ttl'],
    ['{"threshold": 0}', 'threshold'],
    ['{"limt": 10}', 'limt'],
    ['[]', 'body'],
  ]
  for (const [body, field] of cases) {
    const res = await post(app(fakeDiscovery().fake), body, auth)
    assert.equal(res.status, 400, body)
    assert.equal(res.body.error.code, 'invalid_request', body)
    assert.ok(res.body.error.message.includes(field), `${body}: ${res.body.error.message}`)
  }
  const invalid = await post(app(fakeDiscovery().fake), '{', auth)
  assert.equal(invalid.status, 400)
  assert.equal(invalid.body.error.code, 'invalid_json')
})

Deno.test('GET is a 405 that names POST', async () => {
  const res = await app(fakeDiscovery().fake).request('/rocker-discovery-run')
  assert.equal(res.status, 405)
  assert.equal(res.headers.get('allow'), 'POST')
  await res.body?.cancel()
})

Deno.test('a failing assessment answers an opaque 500 after failing the batch', async () => {
  const { fake, seen } = fakeDiscovery([ITEM], new Error('password authentication failed'))
  const res = await post(app(fake), '{}', `Bearer ${await token('service_role')}`)
  assert.equal(res.status, 500)
  assert.equal(res.body.error.code, 'internal_error')
  assert.equal(JSON.stringify(res.body).includes('password'), false, 'the cause is not echoed')
  assert.equal(seen.failed, 1, 'the leased item was failed, not left to its lease')
})

Deno.test('an assessment lost to a dropped connection answers 503, as the cause itself would', async () => {
  const dropped = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })
  const { fake, seen } = fakeDiscovery([ITEM], dropped)
  const res = await post(app(fake), '{}', `Bearer ${await token('service_role')}`)
  assert.equal(res.status, 503)
  assert.equal(res.body.error.code, 'database_unavailable')
  assert.equal(seen.failed, 1)
})
