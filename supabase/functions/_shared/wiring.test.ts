import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import type { TokenVerifier } from './auth.ts'
import { createFunctionApp, verifierFor } from './wiring.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'

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
  const app = createFunctionApp('demo-fn', {})
  app.get('/', (c) => c.text('here'))
  const res = await app.request('/demo-fn')
  assert.equal(await res.text(), 'here')
  const missing = await app.request('/other')
  assert.equal(missing.status, 404)
  assert.equal((await missing.json()).error.code, 'not_found')
})
