// The gateway's Auth and Storage paths: a service the stack hands it gets every request under
// its prefix; one it does not (config.toml turned it off) answers as Kong does with no route.
import assert from 'node:assert/strict'
import { createGatewayHandler } from './gateway.ts'

const base = {
  functions: new Map(),
  functionPorts: new Map(),
  jwtSecret: 'unused-by-these-routes-but-at-least-32-characters',
  rpc: { sql: null as never, jwtSecret: 'unused' },
}

Deno.test('auth and storage paths reach the services given, and only their own', async () => {
  const seen: string[] = []
  const service = (name: string) => (req: Request) => {
    seen.push(`${name} ${new URL(req.url).pathname}`)
    return Promise.resolve(Response.json({ name }))
  }
  const gateway = createGatewayHandler({
    ...base,
    auth: service('auth'),
    storage: service('storage'),
  })
  for (const path of ['/auth/v1', '/auth/v1/token', '/storage/v1/bucket', '/auth/v1x']) {
    await (await gateway(new Request(`http://gw${path}`))).body?.cancel()
  }
  assert.deepEqual(seen, ['auth /auth/v1', 'auth /auth/v1/token', 'storage /storage/v1/bucket'])
})

Deno.test('a service turned off answers 404 "no Route matched", as Kong does', async () => {
  const gateway = createGatewayHandler(base)
  for (const path of ['/auth/v1/signup', '/storage/v1/object/b/x.png']) {
    const res = await gateway(new Request(`http://gw${path}`, { method: 'POST', body: '{}' }))
    assert.equal(res.status, 404, path)
    assert.deepEqual(await res.json(), { message: 'no Route matched with those values' })
  }
})
