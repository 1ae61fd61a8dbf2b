import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { requireServiceRole, type TokenVerifier } from './auth.ts'
import { createDb } from './db.ts'
import { createUsageMetrics } from './metrics.ts'
import { createSpanRecorder, type Span } from './spans.ts'
import { createFunctionApp, verifierFor } from './wiring.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
// Never connected to: every test here injects its span recorder.
const sql = createDb('postgres://postgres:postgres@127.0.0.1:1/postgres')

/** A span recorder that keeps what it is asked to write. */
function collectingSpans() {
  const written: Span[] = []
  const spans = createSpanRecorder({
    write: (batch) => (written.push(...batch), Promise.resolve()),
  })
  return { spans, written }
}

/** Usage metrics on, with their log lines kept instead of printed. */
function collectingMetrics(functionName: string) {
  const lines: Record<string, unknown>[] = []
  const metrics = createUsageMetrics({
    functionName,
    env: { ENABLE_USAGE_METRICS: true },
    log: (line) => lines.push(JSON.parse(line)),
  })
  return { metrics, lines }
}

const sign = (secret: string) =>
  new SignJWT({ role: 'service_role' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret))

Deno.test("verifierFor builds a verifier from env's JWT_SECRET when none is injected", async () => {
  const verifier = verifierFor({ env: { JWT_SECRET: SECRET } })
  assert.equal((await verifier.verify(await sign(SECRET))).role, 'service_role')
  await assert.rejects(verifier.verify(await sign(`${SECRET}-but-another-one`)))
})

Deno.test('verifierFor returns an injected verifier as it is', () => {
  const injected: TokenVerifier = { verify: () => Promise.resolve({ role: 'anon' }) }
  assert.equal(verifierFor({ env: { JWT_SECRET: SECRET }, verifier: injected }), injected)
})

Deno.test("createFunctionApp mounts the app under the function's name", async () => {
  const app = createFunctionApp('demo-fn', { sql, env: {}, spans: collectingSpans().spans })
  app.get('/', (c) => c.text('here'))
  const res = await app.request('/demo-fn')
  assert.equal(await res.text(), 'here')
  const missing = await app.request('/other')
  assert.equal(missing.status, 404)
  assert.equal((await missing.json()).error.code, 'not_found')
})

Deno.test('every request leaves a span naming the function, the matched route and the status', async () => {
  const { spans, written } = collectingSpans()
  const app = createFunctionApp('demo-fn', { sql, env: {}, spans })
  app.get('/items/:id', (c) => c.text(c.req.param('id')))
  app.get('/boom', () => {
    throw new Error('unexpected')
  })
  const before = Date.now()
  assert.equal((await app.request('/demo-fn/items/42')).status, 200)
  assert.equal((await app.request('/demo-fn/boom')).status, 500)
  assert.equal((await app.request('/demo-fn/nowhere')).status, 404)
  await spans.flush()
  assert.deepEqual(
    written.map(({ path, function: fn, route, status, ok }) => ({ path, fn, route, status, ok })),
    [
      // The pattern, not the URL, so ids in paths cannot multiply the series.
      { path: 'demo-fn', fn: 'demo-fn', route: '/demo-fn/items/:id', status: 200, ok: true },
      { path: 'demo-fn', fn: 'demo-fn', route: '/demo-fn/boom', status: 500, ok: false },
      { path: 'demo-fn', fn: 'demo-fn', route: '/demo-fn/*', status: 404, ok: true },
    ],
  )
  for (const span of written) {
    assert.ok(span.duration_ms >= 0 && span.duration_ms < 5000, String(span.duration_ms))
    assert.ok(Date.parse(span.at!) >= before - 1 && Date.parse(span.at!) <= Date.now())
  }
})

Deno.test('a span writer that fails does not fail the request', async () => {
  const spans = createSpanRecorder({ write: () => Promise.reject(new Error('database is down')) })
  const app = createFunctionApp('demo-fn', { sql, env: {}, spans })
  app.get('/', (c) => c.text('fine'))
  const res = await app.request('/demo-fn')
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'fine')
  await spans.flush()
  assert.equal(spans.stats.failed, 1)
})

Deno.test('a span writer that hangs does not delay the request', async () => {
  let release = () => {}
  const hung = new Promise<void>((resolve) => release = resolve)
  const spans = createSpanRecorder({ write: () => hung })
  const app = createFunctionApp('demo-fn', { sql, env: {}, spans })
  app.get('/', (c) => c.text('fine'))
  const res = await app.request('/demo-fn')
  assert.equal(await res.text(), 'fine')
  assert.equal(spans.stats.sent, 0, 'answered while the span write was still open')
  release()
  await spans.flush()
  assert.equal(spans.stats.sent, 1)
})

Deno.test('401 and 403 from the role guards are emitted as auth-failure metrics', async () => {
  const { metrics, lines } = collectingMetrics('demo-worker')
  const verifier: TokenVerifier = { verify: () => Promise.resolve({ role: 'anon' }) }
  const app = createFunctionApp('demo-worker', {
    sql,
    env: {},
    spans: collectingSpans().spans,
    metrics,
  })
  app.post('/', requireServiceRole({ verifier }), (c) => c.text('ran'))
  const none = await app.request('/demo-worker', { method: 'POST' })
  const anon = await app.request('/demo-worker', {
    method: 'POST',
    headers: { authorization: 'Bearer anon' },
  })
  assert.deepEqual([none.status, anon.status], [401, 403])
  assert.deepEqual(lines.map((l) => [l.event, l.function, l.props]), [
    ['auth.failure', 'demo-worker', {
      status: 401,
      route: '/demo-worker',
      reason: 'Missing Authorization header',
    }],
    ['auth.failure', 'demo-worker', {
      status: 403,
      route: '/demo-worker',
      reason: 'This endpoint requires the service_role key',
    }],
  ])
})

Deno.test("handlers find the app's usage metrics in c.var.metrics", async () => {
  const { metrics, lines } = collectingMetrics('demo-worker')
  const app = createFunctionApp('demo-worker', {
    sql,
    env: {},
    spans: collectingSpans().spans,
    metrics,
  })
  app.post('/', (c) => {
    c.var.metrics.workerRun({ topic: 't', processed: 3, errors: 1, duration_ms: 12 })
    return c.text('ran')
  })
  assert.equal((await app.request('/demo-worker', { method: 'POST' })).status, 200)
  assert.deepEqual(lines.map((l) => [l.event, l.props]), [
    ['worker.run', { topic: 't', processed: 3, errors: 1, duration_ms: 12 }],
  ])
})
