import assert from 'node:assert/strict'
import { createDb } from '../_shared/db.ts'
import { KERNEL_VERSION } from '../_shared/version.ts'
import { createHealthApp } from './app.ts'

// Nothing listens on port 1, so connecting is refused at once.
const DEAD_DB_URL = 'postgres://postgres:postgres@127.0.0.1:1/postgres'
// local/run_tests.ts points this at the throwaway test cluster; without it the live test skips.
const LIVE_DB_URL = Deno.env.get('SUPABASE_DB_URL')

Deno.test('an unreachable database answers 503 quickly without leaking the URL', async () => {
  const sql = createDb(DEAD_DB_URL)
  try {
    const start = performance.now()
    const res = await createHealthApp({ sql, env: {} }).request('/health')
    const elapsed = performance.now() - start
    // A correctness bound (the check must not hang), not a performance target.
    assert.ok(elapsed < 3000, `took ${elapsed} ms`)
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    const text = await res.text()
    assert.equal(text.includes('postgres:postgres'), false)
    const body = JSON.parse(text)
    assert.equal(body.app.status, 'ok')
    assert.equal(body.app.version, KERNEL_VERSION)
    assert.equal(body.database.status, 'unreachable')
    assert.equal(body.database.error, 'connection refused')
    assert.equal(typeof body.database.latency_ms, 'number')
    assert.equal(body.rls, null)
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('a database that accepts but never answers is cut off at the deadline', async () => {
  // A TCP server that accepts connections and stays silent: the hang a deadline exists for.
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const conns: Deno.Conn[] = []
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn)
  })()
  const sql = createDb(`postgres://postgres:postgres@127.0.0.1:${listener.addr.port}/postgres`)
  try {
    const start = performance.now()
    const res = await createHealthApp({ sql, env: {}, deadlineMs: 200 }).request('/health')
    assert.ok(performance.now() - start < 2000)
    assert.equal(res.status, 503)
    const body = await res.json()
    assert.equal(body.database.status, 'unreachable')
    assert.equal(body.database.error, 'timeout')
    assert.ok(body.database.latency_ms >= 200)
  } finally {
    await sql.end({ timeout: 0 })
    listener.close()
    await accepting.catch(() => {})
    for (const conn of conns) {
      try {
        conn.close()
      } catch { /* already closed by the client */ }
    }
  }
})

Deno.test("the answer's time comes from the injected clock", async () => {
  const sql = createDb(DEAD_DB_URL)
  try {
    const now = () => Date.UTC(2026, 0, 2, 3, 4, 5)
    const res = await createHealthApp({ sql, env: {}, now }).request('/health')
    assert.equal((await res.json()).app.time, '2026-01-02T03:04:05.000Z')
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('an unknown path is a 404 JSON envelope', async () => {
  const sql = createDb(DEAD_DB_URL)
  try {
    const res = await createHealthApp({ sql, env: {} }).request('/health/nope')
    assert.equal(res.status, 404)
    assert.equal((await res.json()).error.code, 'not_found')
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test({
  name: 'a live database answers 200 with the health report',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!)
    try {
      const app = createHealthApp({ sql, env: {} })
      const res = await app.request('/health/')
      const body = await res.json()
      assert.equal(res.status, 200, JSON.stringify(body))
      assert.equal(res.headers.get('cache-control'), 'no-store')
      assert.deepEqual(Object.keys(body).sort(), ['app', 'database', 'rls'])
      assert.equal(body.app.status, 'ok')
      assert.equal(body.app.version, KERNEL_VERSION)
      assert.ok(!Number.isNaN(Date.parse(body.app.time)))
      assert.equal(body.database.status, 'ok')
      assert.equal(typeof body.database.version, 'string')
      assert.equal(typeof body.database.latency_ms, 'number')
      assert.equal(typeof body.database.tables, 'object')
      assert.equal(typeof body.rls.policy_count, 'number')
      assert.ok(Array.isArray(body.rls.tables_without_rls))

      const head = await app.request('/health', { method: 'HEAD' })
      assert.equal(head.status, 200)
      assert.equal(await head.text(), '')
    } finally {
      await sql.end({ timeout: 0 })
    }
  },
})
