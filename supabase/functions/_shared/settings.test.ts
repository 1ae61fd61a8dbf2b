import assert from 'node:assert/strict'
import { z } from 'zod'
import { EnvError, intSetting, loadSettings, parseSettings, switchSetting } from './settings.ts'

const schema = z.object({
  TEST_SETTINGS_LIMIT: z.coerce.number({ error: 'must be a number' }).int().default(7),
  TEST_SETTINGS_NAME: z.string({ error: 'required' }).min(1, { error: 'required' }),
})

function issuesOf(fn: () => unknown): { variable: string; message: string }[] {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof EnvError, String(err))
    return [...err.issues]
  }
  assert.fail('expected an EnvError')
}

Deno.test('parseSettings returns the parsed values, defaults filled in, other variables ignored', () => {
  assert.deepEqual(
    parseSettings(schema, { TEST_SETTINGS_NAME: 'a', TEST_SETTINGS_LIMIT: '12', OTHER: 'x' }),
    { TEST_SETTINGS_NAME: 'a', TEST_SETTINGS_LIMIT: 12 },
  )
  assert.equal(parseSettings(schema, { TEST_SETTINGS_NAME: 'a' }).TEST_SETTINGS_LIMIT, 7)
})

Deno.test('parseSettings treats an empty string as unset', () => {
  assert.equal(
    parseSettings(schema, { TEST_SETTINGS_NAME: 'a', TEST_SETTINGS_LIMIT: '' }).TEST_SETTINGS_LIMIT,
    7,
  )
  assert.deepEqual(issuesOf(() => parseSettings(schema, { TEST_SETTINGS_NAME: '' })), [
    { variable: 'TEST_SETTINGS_NAME', message: 'required' },
  ])
})

Deno.test('parseSettings names every bad variable in one EnvError, never its value', () => {
  const raw = { TEST_SETTINGS_LIMIT: 'secret-ish', TEST_SETTINGS_NAME: undefined }
  assert.deepEqual(issuesOf(() => parseSettings(schema, raw)).map((i) => i.variable), [
    'TEST_SETTINGS_LIMIT',
    'TEST_SETTINGS_NAME',
  ])
  assert.throws(() => parseSettings(schema, raw), (err: Error) => {
    assert.match(err.message, /^Invalid environment: TEST_SETTINGS_LIMIT: must be a number; /)
    assert.equal(err.message.includes('secret-ish'), false)
    return true
  })
})

Deno.test("loadSettings reads the schema's variables from Deno.env", () => {
  // Read-only: tests never rewrite Deno.env. PATH is set wherever Deno runs.
  const loaded = loadSettings(z.object({
    PATH: z.string(),
    TEST_SETTINGS_NEVER_SET: z.string().default('fallback'),
  }))
  assert.deepEqual(loaded, { PATH: Deno.env.get('PATH'), TEST_SETTINGS_NEVER_SET: 'fallback' })
})

Deno.test('intSetting coerces, defaults, and names its range', () => {
  const ints = z.object({ TEST_SETTINGS_N: intSetting(1, 10, 3) })
  assert.equal(parseSettings(ints, {}).TEST_SETTINGS_N, 3)
  assert.equal(parseSettings(ints, { TEST_SETTINGS_N: '10' }).TEST_SETTINGS_N, 10)
  for (
    const [value, message] of [
      ['0', 'must be between 1 and 10'],
      ['11', 'must be between 1 and 10'],
      ['2.5', 'must be an integer'],
      ['ten', 'must be an integer'],
      // Spellings Number() would accept but nobody means as a setting.
      ['1e1', 'must be an integer'],
      ['5.0', 'must be an integer'],
      ['0x5', 'must be an integer'],
      [' 5', 'must be an integer'],
    ]
  ) {
    assert.deepEqual(issuesOf(() => parseSettings(ints, { TEST_SETTINGS_N: value })), [
      { variable: 'TEST_SETTINGS_N', message },
    ], value)
  }
})

Deno.test('switchSetting reads 1/true as on and 0/false as off, and names anything else', () => {
  const switches = z.object({ TEST_SETTINGS_ON: switchSetting(false) })
  assert.equal(parseSettings(switches, {}).TEST_SETTINGS_ON, false)
  for (const value of ['1', 'true', 'TRUE']) {
    assert.equal(parseSettings(switches, { TEST_SETTINGS_ON: value }).TEST_SETTINGS_ON, true, value)
  }
  for (const value of ['0', 'false']) {
    assert.equal(parseSettings(switches, { TEST_SETTINGS_ON: value }).TEST_SETTINGS_ON, false)
  }
  for (const value of ['yes', 'on', '2']) {
    assert.deepEqual(issuesOf(() => parseSettings(switches, { TEST_SETTINGS_ON: value })), [
      { variable: 'TEST_SETTINGS_ON', message: 'must be 1 or 0' },
    ], value)
  }
})
