import assert from 'node:assert/strict'
import { loadFunctionSecrets, parseDotenv } from './secrets.ts'

Deno.test('dotenv lines, comments, export, and both quote styles are read', () => {
  const parsed = parseDotenv([
    '# function secrets',
    '',
    'ENABLE_LEGACY_MIGRATION=1',
    'export METRICS_SOURCE = casfolio-web  # trailing comment',
    'GREETING="hello \\"you\\"\\nbye"',
    "RAW='no # comment here'",
  ].join('\n'))
  assert.deepEqual(parsed, {
    ENABLE_LEGACY_MIGRATION: '1',
    METRICS_SOURCE: 'casfolio-web',
    GREETING: 'hello "you"\nbye',
    RAW: 'no # comment here',
  })
})

Deno.test('malformed lines and reserved names fail naming the line', () => {
  assert.throws(() => parseDotenv('OK=1\nnot a pair'), /\.env:2: expected KEY=value/)
  assert.throws(() => parseDotenv('SUPABASE_URL=x'), /\.env:1: SUPABASE_URL: .*reserved/)
  assert.throws(() => parseDotenv('A="open'), /\.env:1: unterminated "/)
})

Deno.test('a missing secrets file means no secrets', async () => {
  assert.deepEqual(await loadFunctionSecrets('/nonexistent/functions/.env'), {})
})

Deno.test('a secrets file is read as dotenv', async () => {
  const file = await Deno.makeTempFile({ suffix: '.env' })
  try {
    await Deno.writeTextFile(file, 'ENABLE_LEGACY_MIGRATION=1\nLEGACY_MIGRATION_DRY_RUN=1\n')
    assert.deepEqual(await loadFunctionSecrets(file), {
      ENABLE_LEGACY_MIGRATION: '1',
      LEGACY_MIGRATION_DRY_RUN: '1',
    })
  } finally {
    await Deno.remove(file)
  }
})
