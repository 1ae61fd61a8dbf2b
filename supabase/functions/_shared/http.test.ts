import assert from 'node:assert/strict'
import { z } from 'zod'
import { conflict, tooManyRequests, unauthorized } from './errors.ts'
import { createApp, type ErrorContext, parseJsonBody, type RequestRecord } from './http.ts'

function testApp(options: { maxBodyBytes?: number } = {}) {
  const reported: { err: unknown; ctx: ErrorContext }[] = []
  const app = createApp('demo', {
    ...options,
    reportError: (err, ctx) => reported.push({ err, ctx }),
  })
  const Body = z.object({ limit: z.number().int().max(100), topic: z.string().min(1) })
  app.get('/conflict', () => {
    throw conflict('Already exists', { details: { id: 7 } })
  })
  app.get('/busy', () => {
    throw tooManyRequests('Slow down', 12)
  })
  app.get('/login', () => {
    throw unauthorized('Missing Authorization header')
  })
  app.get('/boom', () => {
    throw new Error('secret internals: password=hunter2')
  })
  app.get('/pg-unique', () => {
    throw Object.assign(new Error('duplicate key'), { code: '23505', constraint_name: 'x_key' })
  })
  app.post('/items', async (c) => c.json(await parseJsonBody(c, Body)))
  app.post('/optional', async (c) => c.json(await parseJsonBody(c, Body.partial().default({}))))
  return { app, reported }
}

async function errorOf(res: Response) {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/)
  return (await res.json()).error
}

Deno.test('an HttpError becomes its status and the JSON error envelope', async () => {
  const res = await testApp().app.request('/demo/conflict')
  assert.equal(res.status, 409)
  assert.deepEqual(await errorOf(res), {
    code: 'conflict',
    message: 'Already exists',
    details: { id: 7 },
  })
})

Deno.test('a 429 carries Retry-After', async () => {
  const res = await testApp().app.request('/demo/busy')
  assert.equal(res.status, 429)
  assert.equal(res.headers.get('retry-after'), '12')
  assert.equal((await errorOf(res)).code, 'too_many_requests')
})

Deno.test('a known Postgres error is mapped through the constants table', async () => {
  const res = await testApp().app.request('/demo/pg-unique')
  assert.equal(res.status, 409)
  assert.equal((await errorOf(res)).code, 'conflict')
})

Deno.test('an unexpected error is an opaque 500 that is reported but never echoed', async () => {
  const { app, reported } = testApp()
  const res = await app.request('/demo/boom', { headers: { 'x-request-id': 'req-123' } })
  assert.equal(res.status, 500)
  const text = await res.text()
  assert.equal(text.includes('hunter2'), false)
  assert.deepEqual(JSON.parse(text).error, {
    code: 'internal_error',
    message: 'Internal error',
    request_id: 'req-123',
  })
  assert.equal(reported.length, 1)
  assert.deepEqual(reported[0].ctx, {
    app: 'demo',
    requestId: 'req-123',
    method: 'GET',
    path: '/demo/boom',
  })
})

Deno.test('a reporter that throws does not change the 500 answer', async () => {
  const app = createApp('demo', {
    reportError: () => {
      throw new Error('reporter down')
    },
  })
  app.get('/boom', () => {
    throw new Error('boom')
  })
  assert.equal((await app.request('/demo/boom')).status, 500)
})

Deno.test('a zod failure in the body names the field', async () => {
  const res = await testApp().app.request('/demo/items', {
    method: 'POST',
    body: JSON.stringify({ limit: 1000, topic: 'a' }),
  })
  assert.equal(res.status, 400)
  const error = await errorOf(res)
  assert.equal(error.code, 'invalid_request')
  assert.match(error.message, /^limit: Too big/)
  assert.equal(error.details.issues[0].path, 'limit')
})

Deno.test('a valid body is parsed', async () => {
  const res = await testApp().app.request('/demo/items', {
    method: 'POST',
    body: JSON.stringify({ limit: 10, topic: 'a' }),
  })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { limit: 10, topic: 'a' })
})

Deno.test('a body that is not JSON is 400 invalid_json', async () => {
  const res = await testApp().app.request('/demo/items', { method: 'POST', body: '{"limit":' })
  assert.equal(res.status, 400)
  assert.equal((await errorOf(res)).code, 'invalid_json')
})

Deno.test('an empty body is rejected when the schema requires one, naming the body', async () => {
  const res = await testApp().app.request('/demo/items', { method: 'POST' })
  assert.equal(res.status, 400)
  assert.match((await errorOf(res)).message, /^body: /)
})

Deno.test('an empty body is accepted when the schema has a default', async () => {
  const res = await testApp().app.request('/demo/optional', { method: 'POST' })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), {})
})

Deno.test('a body above the limit is 413 JSON', async () => {
  const { app } = testApp({ maxBodyBytes: 64 })
  const res = await app.request('/demo/items', { method: 'POST', body: 'x'.repeat(65) })
  assert.equal(res.status, 413)
  const error = await errorOf(res)
  assert.equal(error.code, 'payload_too_large')
  assert.deepEqual(error.details, { max_bytes: 64 })
})

Deno.test('a streamed body above the limit is 413 too', async () => {
  const { app } = testApp({ maxBodyBytes: 64 })
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(30)))
      controller.close()
    },
  })
  const res = await app.request('/demo/items', { method: 'POST', body })
  assert.equal(res.status, 413)
  await res.body?.cancel()
})

Deno.test('a sane incoming request id is echoed', async () => {
  const res = await testApp().app.request('/demo/conflict', {
    headers: { 'x-request-id': 'abc-123' },
  })
  assert.equal(res.headers.get('x-request-id'), 'abc-123')
  await res.body?.cancel()
})

Deno.test('an unsafe or overlong incoming request id is replaced by a uuid', async () => {
  for (const id of ['bad id <script>', 'a'.repeat(500)]) {
    const res = await testApp().app.request('/demo/conflict', { headers: { 'x-request-id': id } })
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    await res.body?.cancel()
  }
})

Deno.test('responses carry a server-timing header', async () => {
  const res = await testApp().app.request('/demo/conflict')
  assert.match(res.headers.get('server-timing') ?? '', /^app;dur=\d+(\.\d)?$/)
  await res.body?.cancel()
})

Deno.test('an unknown path is a 404 JSON envelope', async () => {
  const res = await testApp().app.request('/demo/nope')
  assert.equal(res.status, 404)
  const error = await errorOf(res)
  assert.equal(error.code, 'not_found')
  assert.match(error.message, /GET \/demo\/nope/)
})

Deno.test('a 401 carries WWW-Authenticate, saying invalid_token when a token was sent', async () => {
  const { app } = testApp()
  const without = await app.request('/demo/login')
  assert.equal(without.status, 401)
  assert.equal(without.headers.get('www-authenticate'), 'Bearer')
  await without.body?.cancel()
  const withToken = await app.request('/demo/login', { headers: { authorization: 'Bearer x' } })
  assert.equal(withToken.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
  await withToken.body?.cancel()
  const other = await app.request('/demo/conflict')
  assert.equal(other.headers.has('www-authenticate'), false, 'only on 401')
  await other.body?.cancel()
})

Deno.test('the observer sees each answered request with its route pattern, status and failure', async () => {
  const records: RequestRecord[] = []
  const app = createApp('demo', { observe: (record) => records.push(record) })
  app.get('/items/:id', (c) => c.text('item'))
  app.get('/login', () => {
    throw unauthorized('Missing Authorization header')
  })
  for (const path of ['/demo/items/7', '/demo/login']) {
    await (await app.request(path, { headers: { 'x-request-id': 'req-1' } })).body?.cancel()
  }
  assert.deepEqual(
    records.map(({ app, requestId, method, route, status, failure }) => ({
      app,
      requestId,
      method,
      route,
      status,
      failure,
    })),
    [
      {
        app: 'demo',
        requestId: 'req-1',
        method: 'GET',
        route: '/demo/items/:id',
        status: 200,
        failure: undefined,
      },
      {
        app: 'demo',
        requestId: 'req-1',
        method: 'GET',
        route: '/demo/login',
        status: 401,
        failure: { code: 'unauthorized', message: 'Missing Authorization header' },
      },
    ],
  )
  assert.ok(records.every((r) => r.durationMs >= 0 && Math.abs(r.startedAt - Date.now()) < 5000))
})

Deno.test('an observer that throws does not change the answer', async () => {
  const app = createApp('demo', {
    observe: () => {
      throw new Error('observer bug')
    },
  })
  app.get('/', (c) => c.text('fine'))
  const res = await app.request('/demo')
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'fine')
})
