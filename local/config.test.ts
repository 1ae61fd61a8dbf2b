// config.toml's [auth] settings: GoTrue's defaults, the project's file, and bad values named.
import assert from 'node:assert/strict'
import { DEFAULT_AUTH_SETTINGS, loadProjectConfig, parseAuthSettings } from './config.ts'

Deno.test('an absent [auth] block means GoTrue defaults: signup signs in, tokens last an hour', () => {
  assert.deepEqual(parseAuthSettings({}), DEFAULT_AUTH_SETTINGS)
  assert.equal(DEFAULT_AUTH_SETTINGS.enableConfirmations, false)
  assert.equal(DEFAULT_AUTH_SETTINGS.jwtExpiry, 3600)
})

Deno.test('the project config.toml turns confirmations off and keeps a 6-character minimum', async () => {
  const { auth } = await loadProjectConfig()
  assert.equal(auth.enabled, true)
  assert.equal(auth.enableConfirmations, false)
  assert.equal(auth.minimumPasswordLength, 6)
})

Deno.test('[auth] and [auth.email] values are read, and a wrong type names its key', () => {
  const parsed = parseAuthSettings({
    jwt_expiry: 600,
    refresh_token_reuse_interval: 0,
    email: { enable_confirmations: true, enable_signup: false },
  })
  assert.equal(parsed.jwtExpiry, 600)
  assert.equal(parsed.refreshTokenReuseInterval, 0)
  assert.equal(parsed.enableConfirmations, true)
  assert.equal(parsed.emailEnabled, false)
  assert.throws(
    () => parseAuthSettings({ email: { enable_confirmations: 'yes' } }),
    /\[auth\.email\] enable_confirmations must be true or false/,
  )
  assert.throws(
    () => parseAuthSettings({ jwt_expiry: 0 }),
    /\[auth\] jwt_expiry must be an integer >= 1/,
  )
})
