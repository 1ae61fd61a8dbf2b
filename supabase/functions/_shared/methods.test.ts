// A known path called with a method it has no route for: 405 with Allow, never a 404 or 5xx.
import assert from 'node:assert/strict'
import { createApp } from './http.ts'
import { allowedMethods } from './methods.ts'

function testApp() {
  const app = createApp('demo')
  app.use('*', async (_c, next) => await next())
  app.post('/', (c) => c.json({ ok: true }))
  app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }))
  app.delete('/items/:id', (c) => c.body(null, 204))
  return app
}

Deno.test('a known path with a wrong method is 405 naming the allowed methods', async () => {
  const app = testApp()
  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'FOO']) {
    const res = await app.request('/demo', { method })
    assert.equal(res.status, 405, method)
    assert.equal(res.headers.get('allow'), 'POST', method)
    const body = await res.json()
    assert.equal(body.error.code, 'method_not_allowed')
    assert.match(body.error.message, new RegExp(`^${method} is not allowed on /demo`))
  }
  const item = await app.request('/demo/items/7', { method: 'POST' })
  assert.equal(item.status, 405)
  assert.equal(item.headers.get('allow'), 'GET, HEAD, DELETE')
})

Deno.test('the allowed methods still answer, and an unknown path stays 404', async () => {
  const app = testApp()
  assert.equal((await app.request('/demo', { method: 'POST' })).status, 200)
  assert.equal((await app.request('/demo/items/7', { method: 'HEAD' })).status, 200)
  const missing = await app.request('/demo/nothing', { method: 'PUT' })
  assert.equal(missing.status, 404)
  assert.equal(missing.headers.get('allow'), null)
  assert.equal((await missing.json()).error.code, 'not_found')
})

Deno.test('allowedMethods ignores middleware that runs for every method', () => {
  const app = testApp()
  assert.deepEqual(allowedMethods(app, '/demo'), ['POST'])
  assert.deepEqual(allowedMethods(app, '/demo/items/1'), ['GET', 'HEAD', 'DELETE'])
  assert.deepEqual(allowedMethods(app, '/demo/other'), [])
})
