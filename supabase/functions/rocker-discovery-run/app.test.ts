// The handler through app.request: service_role only, body validation naming the field, the
// threshold from config or body, and the answer's shape. Storage is an in-memory store here;
// store.test.ts and journey.test.ts run it against the real database.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { createTokenVerifier } from '../_shared/auth.ts'
import { createDb } from '../_shared/db.ts'
import { createDiscoveryRunApp } from './app.ts'
import type { DiscoveryItem, DiscoveryStore } from './run.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
const verifier = createTokenVerifier({ jwtSecret: SECRET })
// Never connected to: the injected store replaces every query.
const sql = createDb('postgres://postgres:postgres@127.0.0.1:1/postgres')

function token(role: string, sub?: string) {
  return new SignJWT(sub ? { role, sub } : { role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

const ITEM: DiscoveryItem = {
  id: '1',
  interest_id: 'a',
  user_id: '00000000-0000-0000-0000-000000000001',
  attempts: 1,
  max_attempts: 5,
}

/** One queued item for interest `a`; records the thresholds and lease arguments it was given. */
function fakeStore(items: DiscoveryItem[] = []) {
  const seen = { thresholds: [] as number[], leases: [] as [number, number][] }
  const queue = [...items]
  const store: DiscoveryStore = {
    lease: (limit, ttl) => {
      seen.leases.push([limit, ttl])
      const taken = queue.splice(0, limit)
      return Promise.resolve(taken.length ? { lease_token: 't', items: taken } : null)
    },
    assess: (ids, threshold) => {
      seen.thresholds.push(threshold)
      return Promise.resolve(ids.map((interest_id) => ({
        interest_id,
        ok: true,
        error: null,
        gaps_opened: 1,
        gaps_resolved: 0,
      })))
    },
    ack: (ids) => Promise.resolve(ids.length),
    fail: (ids) => Promise.resolve(ids.length),
  }
  return { store, seen }
}

function app(store: DiscoveryStore, gapThreshold = 3) {
  return createDiscoveryRunApp({ sql, verifier, config: { gapThreshold }, env: {}, store })
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
  const res = await post(app(fakeStore().store), '{}')
  assert.equal(res.status, 401)
  assert.equal(res.body.error.code, 'unauthorized')
})

Deno.test('the anon key and user tokens are 403', async () => {
  for (
    const t of [await token('anon'), await token('authenticated', crypto.randomUUID())]
  ) {
    const res = await post(app(fakeStore().store), '{}', `Bearer ${t}`)
    assert.equal(res.status, 403)
    assert.equal(res.body.error.message, 'This endpoint requires the service_role key')
  }
})

Deno.test('an empty body runs with the defaults (limit 100, ttl 120, threshold from config)', async () => {
  const { store, seen } = fakeStore([ITEM])
  const res = await post(app(store, 4), undefined, `Bearer ${await token('service_role')}`)
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
  const { store, seen } = fakeStore([ITEM])
  const res = await post(
    app(store),
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
    const res = await post(app(fakeStore().store), body, auth)
    assert.equal(res.status, 400, body)
    assert.equal(res.body.error.code, 'invalid_request', body)
    assert.ok(res.body.error.message.includes(field), `${body}: ${res.body.error.message}`)
  }
  const invalid = await post(app(fakeStore().store), '{', auth)
  assert.equal(invalid.status, 400)
  assert.equal(invalid.body.error.code, 'invalid_json')
})

Deno.test('GET is not a route', async () => {
  const res = await app(fakeStore().store).request('/rocker-discovery-run')
  assert.equal(res.status, 404)
  await res.body?.cancel()
})
