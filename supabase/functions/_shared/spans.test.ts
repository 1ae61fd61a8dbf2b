// Spans against the live test stack: the writer's batches land in public.kernel_spans, an app
// built the ordinary way leaves one row per request, and the function processes and the
// gateway's RPC route do the same through the real gateway.
import assert from 'node:assert/strict'
import { adminSql, eventually, testStackEnv } from '../../../local/testing.ts'
import { settled } from './background.ts'
import { createDb } from './db.ts'
import { requestSpan, sqlSpanWriter } from './spans.ts'
import { createFunctionApp } from './wiring.ts'
import { deleteSpans } from './spans_testing.ts'

const LIVE = Deno.env.get('SUPABASE_DB_URL') !== undefined

interface SpanRow {
  path: string
  function: string | null
  route: string | null
  status: number | null
  duration_ms: number
  ok: boolean
  at: Date
}

Deno.test('requestSpan counts only 5xx against the objective and keeps microseconds', () => {
  const base = { path: 'p', function: 'p', route: '/p', startedAt: Date.UTC(2026, 0, 1) }
  assert.deepEqual(requestSpan({ ...base, status: 404, durationMs: 1.23456789 }), {
    path: 'p',
    function: 'p',
    route: '/p',
    status: 404,
    duration_ms: 1.235,
    ok: true,
    at: '2026-01-01T00:00:00.000Z',
  })
  assert.equal(requestSpan({ ...base, status: 503, durationMs: 1 }).ok, false)
})

Deno.test({
  name: 'a batch written through ops.record_spans lands in kernel_spans as given',
  ignore: !LIVE,
  async fn() {
    const admin = adminSql()
    const sql = createDb(testStackEnv().dbUrl)
    const path = `spans-test-${crypto.randomUUID().slice(0, 8)}`
    try {
      // A minute ago: record_spans takes only the last day (writers buffer for seconds).
      const at = new Date(Date.now() - 60_000).toISOString()
      await sqlSpanWriter(sql)([
        { path, function: path, route: `/${path}`, status: 200, duration_ms: 12.5, ok: true, at },
        { path, duration_ms: 3, ok: false },
      ])
      const rows = await admin<SpanRow[]>`
        select path, function, route, status, duration_ms, ok, at
          from public.kernel_spans where path = ${path} order by duration_ms desc`
      assert.equal(rows.length, 2)
      assert.deepEqual(
        rows.map((r) => [r.function, r.route, r.status, r.duration_ms, r.ok]),
        [[path, `/${path}`, 200, 12.5, true], [null, null, null, 3, false]],
      )
      assert.equal(rows[0].at.toISOString(), at)
      // Left out, `at` is the database's time of the write.
      assert.ok(Math.abs(rows[1].at.getTime() - Date.now()) < 60_000)
    } finally {
      await deleteSpans(admin, path)
      await sql.end({ timeout: 1 })
      await admin.end({ timeout: 1 })
    }
  },
})

Deno.test({
  name: 'an app built with createFunctionApp leaves one span per request in kernel_spans',
  ignore: !LIVE,
  async fn() {
    const admin = adminSql()
    const sql = createDb(testStackEnv().dbUrl)
    const name = `spans-app-${crypto.randomUUID().slice(0, 8)}`
    try {
      const app = createFunctionApp(name, { sql, env: {} })
      app.get('/', (c) => c.text('ok'))
      app.post('/fail', () => {
        throw new Error('unexpected')
      })
      for (let i = 0; i < 3; i++) assert.equal((await app.request(`/${name}`)).status, 200)
      assert.equal((await app.request(`/${name}/fail`, { method: 'POST' })).status, 500)
      // The spans were flushed in the background (waitUntil's local shim); wait for it.
      await settled()
      const rows = await admin<SpanRow[]>`
        select path, function, route, status, duration_ms, ok, at
          from public.kernel_spans where path = ${name} order by at`
      assert.deepEqual(rows.map((r) => [r.function, r.route, r.status, r.ok]), [
        [name, `/${name}`, 200, true],
        [name, `/${name}`, 200, true],
        [name, `/${name}`, 200, true],
        [name, `/${name}/fail`, 500, false],
      ])
    } finally {
      await deleteSpans(admin, name)
      await sql.end({ timeout: 1 })
      await admin.end({ timeout: 1 })
    }
  },
})

Deno.test({
  name: 'function requests and RPCs through the gateway leave spans for their paths',
  ignore: !LIVE,
  async fn() {
    const env = testStackEnv()
    const admin = adminSql(env)
    try {
      const [{ since }] = await admin<{ since: Date }[]>`select now() as since`
      const health = await fetch(`${env.apiUrl}/functions/v1/health`)
      await health.body?.cancel()
      const rpc = await fetch(`${env.apiUrl}/rest/v1/rpc/health_check`, {
        method: 'POST',
        headers: { apikey: env.anonKey, 'content-type': 'application/json' },
        body: '{}',
      })
      assert.equal(rpc.status, 200)
      await rpc.body?.cancel()
      const found = await eventually(async () => {
        const rows = await admin<{ path: string; route: string; status: number }[]>`
          select distinct path, route, status from public.kernel_spans
           where at >= ${since} and path in ('health', 'rpc.health_check')
           order by path`
        return rows.length === 2 ? rows : null
      })
      assert.deepEqual(found.map((r) => ({ ...r })), [
        { path: 'health', route: '/health', status: health.status },
        { path: 'rpc.health_check', route: '/rest/v1/rpc/health_check', status: 200 },
      ])
    } finally {
      await admin.end({ timeout: 1 })
    }
  },
})
