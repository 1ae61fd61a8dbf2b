import assert from 'node:assert/strict'
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose'
import { createApp } from './http.ts'
import {
  bearerToken,
  type Claims,
  createTokenVerifier,
  requireServiceRole,
  requireUser,
  type UserVars,
} from './auth.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
const USER_ID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f'
const hourFromNow = () => Math.floor(Date.now() / 1000) + 3600

function hs256(claims: JWTPayload, secret = SECRET) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime(claims.exp ?? hourFromNow())
    .sign(new TextEncoder().encode(secret))
}

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

function testApp(verifier = createTokenVerifier({ jwtSecret: SECRET })) {
  const app = createApp<UserVars>('demo')
  app.get('/service', requireServiceRole({ verifier }), (c) => c.json({ role: c.var.claims.role }))
  app.get(
    '/me',
    requireUser({ verifier }),
    (c) => c.json({ userId: c.var.userId, role: c.var.claims.role }),
  )
  return app
}

async function call(path: string, authorization?: string, app = testApp()) {
  const headers = authorization === undefined ? undefined : { authorization }
  const res = await app.request(path, { headers })
  return { status: res.status, body: await res.json() }
}

Deno.test('a missing Authorization header is 401', async () => {
  const { status, body } = await call('/demo/service')
  assert.equal(status, 401)
  assert.deepEqual(body.error, { code: 'unauthorized', message: 'Missing Authorization header' })
})

Deno.test('a non-Bearer Authorization header is 401', async () => {
  const { status, body } = await call('/demo/service', 'Basic dXNlcjpwYXNz')
  assert.equal(status, 401)
  assert.match(body.error.message, /Bearer/)
})

Deno.test('a malformed token is 401', async () => {
  const { status, body } = await call('/demo/service', 'Bearer not.a.jwt')
  assert.equal(status, 401)
  assert.equal(body.error.message, 'Malformed token')
})

Deno.test('an expired token is 401', async () => {
  const token = await hs256({ role: 'service_role', exp: Math.floor(Date.now() / 1000) - 60 })
  const { status, body } = await call('/demo/service', `Bearer ${token}`)
  assert.equal(status, 401)
  assert.equal(body.error.message, 'Token expired')
})

Deno.test('a token without exp is accepted, as PostgREST accepts it', async () => {
  const token = await new SignJWT({ role: 'service_role' })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(SECRET))
  const { status, body } = await call('/demo/service', `Bearer ${token}`)
  assert.equal(status, 200, JSON.stringify(body))
  assert.equal(body.role, 'service_role')
})

Deno.test('a token signed with another secret is 401', async () => {
  const token = await hs256(
    { role: 'service_role' },
    'another-secret-that-is-also-32-characters-long',
  )
  const { status, body } = await call('/demo/service', `Bearer ${token}`)
  assert.equal(status, 401)
  assert.equal(body.error.message, 'Invalid token signature')
})

Deno.test('an unsigned alg=none token is 401', async () => {
  const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${
    b64url({ role: 'service_role', exp: hourFromNow() })
  }.`
  const { status, body } = await call('/demo/service', `Bearer ${token}`)
  assert.equal(status, 401)
  assert.match(body.error.message, /Unsupported token algorithm/)
})

Deno.test('a token without a role claim is 401', async () => {
  const { status, body } = await call('/demo/service', `Bearer ${await hs256({ sub: USER_ID })}`)
  assert.equal(status, 401)
  assert.equal(body.error.message, 'Token has no role claim')
})

Deno.test('the anon key is 403 on a service endpoint', async () => {
  const { status, body } = await call('/demo/service', `Bearer ${await hs256({ role: 'anon' })}`)
  assert.equal(status, 403)
  assert.equal(body.error.code, 'forbidden')
})

Deno.test('a user token is 403 on a service endpoint', async () => {
  const token = await hs256({ role: 'authenticated', sub: USER_ID })
  assert.equal((await call('/demo/service', `Bearer ${token}`)).status, 403)
})

Deno.test('the service_role key is admitted to a service endpoint', async () => {
  const token = await hs256({ role: 'service_role', iss: 'supabase-demo' })
  const { status, body } = await call('/demo/service', `bearer ${token}`)
  assert.equal(status, 200)
  assert.deepEqual(body, { role: 'service_role' })
})

Deno.test('a signed-in user is admitted to a user endpoint with userId set', async () => {
  const token = await hs256({ role: 'authenticated', sub: USER_ID, email: 'a@example.com' })
  const { status, body } = await call('/demo/me', `Bearer ${token}`)
  assert.equal(status, 200)
  assert.deepEqual(body, { userId: USER_ID, role: 'authenticated' })
})

Deno.test('the anon key is 403 on a user endpoint', async () => {
  const { status } = await call('/demo/me', `Bearer ${await hs256({ role: 'anon' })}`)
  assert.equal(status, 403)
})

Deno.test('an authenticated token whose sub is not a uuid is 403', async () => {
  const token = await hs256({ role: 'authenticated', sub: 'not-a-uuid' })
  assert.equal((await call('/demo/me', `Bearer ${token}`)).status, 403)
})

for (const alg of ['ES256', 'RS256'] as const) {
  Deno.test(`an ${alg} token verifies against a local JWKS`, async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
    const jwk = { ...(await exportJWK(publicKey)), kid: `${alg}-key`, alg, use: 'sig' }
    const verifier = createTokenVerifier({ jwks: { keys: [jwk] } })
    const token = await new SignJWT({ role: 'authenticated', sub: USER_ID })
      .setProtectedHeader({ alg, kid: jwk.kid })
      .setExpirationTime('1h')
      .sign(privateKey)
    const { status, body } = await call('/demo/me', `Bearer ${token}`, testApp(verifier))
    assert.equal(status, 200)
    assert.equal(body.userId, USER_ID)
  })
}

Deno.test('an asymmetric token signed by an unknown key is 401', async () => {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true })
  const other = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'known', alg: 'ES256' }
  const verifier = createTokenVerifier({ jwks: { keys: [jwk] } })
  const token = await new SignJWT({ role: 'service_role' })
    .setProtectedHeader({ alg: 'ES256', kid: 'known' })
    .setExpirationTime('1h')
    .sign(other.privateKey)
  await assert.rejects(verifier.verify(token), (err: Error) => /signature/.test(err.message))
})

Deno.test('an HS256 token is refused when only a JWKS is configured', async () => {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true })
  const verifier = createTokenVerifier({ jwks: { keys: [await exportJWK(publicKey)] } })
  await assert.rejects(
    verifier.verify(await hs256({ role: 'service_role' })),
    /Unsupported token algorithm/,
  )
})

Deno.test('the verifier returns the claims of a valid token', async () => {
  const verifier = createTokenVerifier({ jwtSecret: SECRET })
  const claims: Claims = await verifier.verify(await hs256({ role: 'anon', ref: 'demo' }))
  assert.equal(claims.role, 'anon')
  assert.equal(claims.ref, 'demo')
})

Deno.test('a verifier without any key refuses to be built', () => {
  assert.throws(() => createTokenVerifier({}), /jwtSecret or a non-empty jwks/)
  assert.throws(() => createTokenVerifier({ jwks: { keys: [] } }), /jwtSecret or a non-empty jwks/)
})

Deno.test('bearerToken extracts the token and rejects other schemes', () => {
  assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  assert.throws(() => bearerToken('Bearer'), /Bearer <token>/)
  assert.throws(() => bearerToken('Bearer a b'), /Bearer <token>/)
  assert.throws(() => bearerToken(''), /Missing/)
})
