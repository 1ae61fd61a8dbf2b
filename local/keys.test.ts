import assert from 'node:assert/strict'
import { decodeJwt } from 'jose'
import { signDemoKey } from './keys.ts'

// The Supabase CLI's published local anon key; tools hard-wire it, so ours must match it.
const CLI_ANON_KEY = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
  'eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.' +
  'CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0'

Deno.test('the local anon key is the Supabase CLI demo key', async () => {
  assert.equal(await signDemoKey('anon'), CLI_ANON_KEY)
})

Deno.test('the local service_role key carries the service_role claim', async () => {
  const claims = decodeJwt(await signDemoKey('service_role'))
  assert.equal(claims.role, 'service_role')
  assert.equal(claims.iss, 'supabase-demo')
})
