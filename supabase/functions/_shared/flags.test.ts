import assert from 'node:assert/strict'
import { adminSql, testStackEnv } from '../../../local/testing.ts'
import { bucketOf } from './bucket.ts'
import { createDb } from './db.ts'
import {
  createFlagStore,
  evaluateFlagValue,
  FLAG_KEYS,
  type FlagRow,
  isMalformedFlagValue,
} from './flags.ts'

// ---------------------------------------------------------------------------------------------
// The shared vectors (also checked by supabase/tests/flags/percentage_rollouts_…test.sql)
// ---------------------------------------------------------------------------------------------

interface Vector {
  line: number
  key: string
  value: unknown
  userId: string | null
  bucket: number | null
  enabled: boolean
}

/** Reads the vectors file: Postgres COPY text format with a header line, `\N` for null. */
async function readVectors(): Promise<Vector[]> {
  const url = new URL('../../tests/flags/bucket_vectors.tsv', import.meta.url)
  const lines = (await Deno.readTextFile(url)).split('\n').filter((l) => l !== '')
  assert.deepEqual(lines[0].split('\t'), ['key', 'value', 'user_id', 'bucket', 'enabled'])
  return lines.slice(1).map((line, i) => {
    const [key, value, userId, bucket, enabled] = line.split('\t')
    assert.ok(!line.includes('\\') || line.includes('\\N'), 'no COPY escapes besides \\N')
    return {
      line: i + 2,
      key,
      value: JSON.parse(value),
      userId: userId === '\\N' ? null : userId,
      bucket: bucket === '\\N' ? null : Number(bucket),
      enabled: enabled === 'true',
    }
  })
}

Deno.test('bucketOf matches every vector', async () => {
  const vectors = await readVectors()
  assert.ok(vectors.length >= 100)
  for (const v of vectors) {
    if (v.userId === null) continue
    const value = v.value as { group?: unknown }
    const seed = typeof value.group === 'string' && value.group !== '' ? value.group : v.key
    assert.equal(bucketOf(seed, v.userId), v.bucket, `line ${v.line}`)
  }
})

Deno.test('evaluateFlagValue matches every vector (the rules of public.flag_enabled)', async () => {
  for (const v of await readVectors()) {
    assert.equal(evaluateFlagValue(v.key, v.value, v.userId).value, v.enabled, `line ${v.line}`)
  }
})

Deno.test('evaluateFlagValue names the rule that decided', () => {
  const user = '00000000-0000-0000-0000-000000000001'
  assert.deepEqual(evaluateFlagValue('k', undefined, user), { value: false, rule: 'DEFAULT' })
  assert.deepEqual(evaluateFlagValue('k', { enabled: false }, user), {
    value: false,
    rule: 'STATIC',
  })
  assert.deepEqual(evaluateFlagValue('k', { enabled: true }), { value: true, rule: 'STATIC' })
  assert.equal(evaluateFlagValue('k', { enabled: true, percentage: 50 }, user).rule, 'SPLIT')
  assert.deepEqual(evaluateFlagValue('k', { enabled: true, percentage: 50 }), {
    value: false,
    rule: 'DEFAULT',
  })
  assert.deepEqual(evaluateFlagValue(FLAG_KEYS.safeMode, { enabled: true, percentage: 95 }), {
    value: true,
    rule: 'DEFAULT',
  })
})

Deno.test('a malformed value is never a rollout: fail-safe answer, rule ERROR', () => {
  const user = '00000000-0000-0000-0000-000000000001'
  const malformed: unknown[] = [
    { enabled: true, percentage: '5' },
    { enabled: true, percentage: 500 },
    { enabled: true, percentage: -1 },
    { enabled: 'true' },
    { enabled: true, group: '' },
    { enabled: true, group: 7 },
    [true],
    'on',
    null,
  ]
  for (const value of malformed) {
    assert.ok(isMalformedFlagValue(value), JSON.stringify(value))
    for (const u of [user, null]) {
      assert.deepEqual(evaluateFlagValue('new.flag', value, u), { value: false, rule: 'ERROR' })
      assert.deepEqual(evaluateFlagValue(FLAG_KEYS.safeMode, value, u), {
        value: true,
        rule: 'ERROR',
      })
    }
  }
  for (const value of [{}, { enabled: false }, { enabled: true, percentage: 0 }, { note: 'x' }]) {
    assert.ok(!isMalformedFlagValue(value), JSON.stringify(value))
  }
})

Deno.test('the store reports a malformed stored value as ERROR with the fail-safe answer', async () => {
  const store = createFlagStore({
    load: () =>
      Promise.resolve([
        { key: 'global.safe_mode', value: { enabled: 'false' } },
        { key: 'new.canary', value: { enabled: true, percentage: '5' } },
        { key: 'ranker.policy', value: { version: 'epsilon_greedy_v1', epsilon: 0.08 } },
      ]),
  })
  assert.deepEqual(await store.evaluate('new.canary', '00000000-0000-0000-0000-000000000001'), {
    value: false,
    reason: 'ERROR',
  })
  assert.deepEqual(await store.evaluate(FLAG_KEYS.safeMode), { value: true, reason: 'ERROR' })
  assert.deepEqual(await store.rankerPolicy(), {
    version: 'epsilon_greedy_v1',
    epsilon: 0,
    safeMode: true,
    reason: 'ERROR',
  })
})

// ---------------------------------------------------------------------------------------------
// The store, with an injected loader and clock
// ---------------------------------------------------------------------------------------------

const SEEDS: FlagRow[] = [
  { key: 'global.safe_mode', value: { enabled: false } },
  { key: 'ranker.policy', value: { version: 'epsilon_greedy_v1', epsilon: 0.08 } },
  { key: 'marketplace.suggest', value: { enabled: true } },
  { key: 'learning.enabled', value: { enabled: true } },
  { key: 'crush_mode.enabled', value: { enabled: false } },
]

function fakeSource(rows: FlagRow[] = SEEDS) {
  const source = {
    rows: rows.map((r) => ({ ...r })),
    calls: 0,
    down: false,
    clock: 1_000_000,
    errors: [] as unknown[],
    set(key: string, value: unknown) {
      source.rows = [...source.rows.filter((r) => r.key !== key), { key, value }]
    },
    load: async () => {
      source.calls++
      await Promise.resolve()
      if (source.down) {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      }
      return source.rows
    },
  }
  return source
}

function storeOn(source: ReturnType<typeof fakeSource>, extra = {}) {
  return createFlagStore({
    load: source.load,
    now: () => source.clock,
    onError: (err) => source.errors.push(err),
    ...extra,
  })
}

Deno.test('the first evaluation loads (STATIC), later ones within the TTL are CACHED', async () => {
  const src = fakeSource()
  const store = storeOn(src)
  assert.deepEqual(await store.evaluate('marketplace.suggest'), { value: true, reason: 'STATIC' })
  assert.deepEqual(await store.evaluate('marketplace.suggest'), { value: true, reason: 'CACHED' })
  assert.deepEqual(await store.evaluate('crush_mode.enabled'), { value: false, reason: 'CACHED' })
  assert.deepEqual(await store.evaluate('no.such_flag'), { value: false, reason: 'DEFAULT' })
  assert.equal(src.calls, 1, 'one query for all flags')
})

Deno.test('a change is seen once the TTL has passed, not before', async () => {
  const src = fakeSource()
  const store = storeOn(src, { ttlMs: 5000 })
  assert.equal(await store.isSafeMode(), false)
  src.set('global.safe_mode', { enabled: true })
  src.clock += 4999
  assert.equal(await store.isSafeMode(), false, 'still cached just inside the TTL')
  src.clock += 1
  assert.equal(await store.isSafeMode(), true, 'reloaded at the TTL')
  assert.equal(src.calls, 2)
})

Deno.test('concurrent evaluations share one in-flight refresh', async () => {
  const src = fakeSource()
  const store = storeOn(src)
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => store.isEnabled('learning.enabled', `user-${i}`)),
  )
  assert.ok(results.every((r) => r === true))
  assert.equal(src.calls, 1)
})

Deno.test('an unreachable database: STALE for staleMs after the last load, then fail-safe ERROR', async () => {
  const src = fakeSource()
  src.set('global.safe_mode', { enabled: true, percentage: 0 })
  const store = storeOn(src, { ttlMs: 5000, staleMs: 60_000, retryMs: 1000 })
  const loadedAt = src.clock
  assert.equal((await store.evaluate('learning.enabled')).reason, 'STATIC')

  src.down = true
  src.clock = loadedAt + 5000
  assert.deepEqual(await store.evaluate('learning.enabled'), { value: true, reason: 'STALE' })
  assert.deepEqual(await store.evaluate('global.safe_mode', crypto.randomUUID()), {
    value: false,
    reason: 'STALE',
  })
  assert.equal(src.errors.length, 1, 'the failure was reported')
  const policy = await store.rankerPolicy()
  assert.deepEqual(policy, {
    version: 'epsilon_greedy_v1',
    epsilon: 0.08,
    safeMode: false,
    reason: 'STALE',
  })
  assert.equal(src.calls, 2, 'no retry within retryMs of a failure')

  src.clock = loadedAt + 59_999
  assert.equal((await store.evaluate('learning.enabled')).reason, 'STALE')

  src.clock = loadedAt + 60_000
  assert.deepEqual(await store.evaluate('learning.enabled'), { value: false, reason: 'ERROR' })
  assert.deepEqual(await store.evaluate(FLAG_KEYS.safeMode), { value: true, reason: 'ERROR' })
  assert.equal(await store.isSafeMode(crypto.randomUUID()), true)
  assert.equal(await store.isEnabled('marketplace.suggest'), false)
  assert.deepEqual(await store.rankerPolicy(), {
    version: 'epsilon_greedy_v1',
    epsilon: 0,
    safeMode: true,
    reason: 'ERROR',
  })
  assert.ok(store.status().lastError instanceof Error)

  src.down = false
  src.clock += 1000
  assert.deepEqual(await store.evaluate('learning.enabled'), { value: true, reason: 'STATIC' })
  assert.equal(store.status().lastError, null, 'recovered')
})

Deno.test('a store that has never loaded fails safe at once', async () => {
  const src = fakeSource()
  src.down = true
  const store = storeOn(src)
  assert.deepEqual(await store.evaluate(FLAG_KEYS.safeMode), { value: true, reason: 'ERROR' })
  assert.equal(store.status().loadedAt, null)
})

Deno.test('a hanging load counts as failed after refreshTimeoutMs', async () => {
  let release = () => {}
  const store = createFlagStore({
    load: () => new Promise<FlagRow[]>((resolve) => (release = () => resolve([]))),
    refreshTimeoutMs: 20,
    onError: () => {},
  })
  assert.deepEqual(await store.evaluate(FLAG_KEYS.safeMode), { value: true, reason: 'ERROR' })
  release()
})

Deno.test('rankerPolicy: epsilon from the flag, 0 for users under safe mode', async () => {
  const src = fakeSource()
  const store = storeOn(src)
  assert.deepEqual(await store.rankerPolicy(), {
    version: 'epsilon_greedy_v1',
    epsilon: 0.08,
    safeMode: false,
    reason: 'STATIC',
  })
  assert.equal((await store.rankerPolicy()).reason, 'CACHED')

  // The safe-mode canary at 95 %: the users outside it explore, the rest do not.
  src.set('global.safe_mode', { enabled: true, percentage: 95 })
  src.clock += 5000
  // Reload now: otherwise the loop's first (random) user triggers the reload and, when outside
  // the canary, is answered STATIC rather than CACHED, which failed about one run in twenty.
  await store.refresh()
  const users = Array.from({ length: 400 }, () => crypto.randomUUID())
  for (const user of users) {
    const policy = await store.rankerPolicy(user)
    const inSafeMode = bucketOf('global.safe_mode', user) <= 95
    assert.equal(policy.safeMode, inSafeMode)
    assert.equal(policy.epsilon, inSafeMode ? 0 : 0.08)
    assert.equal(policy.reason, inSafeMode ? 'TARGETING_MATCH' : 'CACHED')
    assert.equal(await store.isSafeMode(user), inSafeMode)
    assert.equal((await store.evaluate(FLAG_KEYS.safeMode, user)).reason, 'SPLIT')
  }
  assert.ok(users.some((u) => bucketOf('global.safe_mode', u) > 95), 'some users are released')
  assert.equal((await store.rankerPolicy()).epsilon, 0, 'no user: safe mode during the canary')

  src.set('ranker.policy', { version: 'broken' })
  src.set('global.safe_mode', { enabled: false })
  src.clock += 5000
  assert.deepEqual(await store.rankerPolicy(), {
    version: 'epsilon_greedy_v1',
    epsilon: 0,
    safeMode: false,
    reason: 'DEFAULT',
  })
})

Deno.test('createFlagStore needs a source', () => {
  assert.throws(() => createFlagStore({}), /needs `sql` or `load`/)
})

// ---------------------------------------------------------------------------------------------
// Against the real database
// ---------------------------------------------------------------------------------------------

/**
 * A TCP relay to the test database that can be cut, so a client that loaded from the real
 * database then finds it gone (connection refused), as when the database goes away.
 */
function relayTo(port: number) {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const conns: Deno.Conn[] = []
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable)
    } catch { /* cut */ }
  }
  const accepting = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: '127.0.0.1', port })
      conns.push(client, upstream)
      pump(client, upstream)
      pump(upstream, client)
    }
  })().catch(() => {})
  let open = true
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async cut() {
      if (!open) return
      open = false
      listener.close()
      for (const c of conns) {
        try {
          c.close()
        } catch { /* already closed */ }
      }
      await accepting
    },
  }
}

Deno.test('against the database: one load, a change seen after the TTL, then STALE and ERROR when it goes away', async () => {
  const env = testStackEnv()
  const admin = adminSql(env)
  const dbUrl = new URL(env.dbUrl)
  const relay = relayTo(Number(dbUrl.port))
  dbUrl.port = String(relay.port)
  const sql = createDb(dbUrl.toString(), { max: 1, connectTimeoutSeconds: 1 })
  let clock = 1_000_000
  const store = createFlagStore({ sql, now: () => clock, onError: () => {} })
  const key = `tests.flags_store_${crypto.randomUUID().slice(0, 8)}`
  try {
    await admin`insert into public.feature_flags (key, value) values (${key}, '{"enabled": false}'::jsonb)`
    assert.deepEqual(await store.evaluate(key), { value: false, reason: 'STATIC' })
    assert.deepEqual(await store.evaluate('ranker.policy'), { value: false, reason: 'CACHED' })
    assert.equal((await store.rankerPolicy()).version, 'epsilon_greedy_v1', 'seeded policy read')

    await admin`update public.feature_flags set value = '{"enabled": true}'::jsonb where key = ${key}`
    clock += 4000
    assert.equal(await store.isEnabled(key), false, 'within the TTL the cached value is served')
    clock += 1000
    assert.equal(await store.isEnabled(key), true, 'the change is seen when the TTL expires')
    const loadedAt = clock

    await relay.cut()
    clock = loadedAt + 5000
    assert.deepEqual(await store.evaluate(key), { value: true, reason: 'STALE' })
    clock = loadedAt + 30_000
    assert.deepEqual(await store.evaluate(key), { value: true, reason: 'STALE' })
    assert.equal(await store.isSafeMode(), false)
    clock = loadedAt + 60_000
    assert.deepEqual(await store.evaluate(key), { value: false, reason: 'ERROR' })
    assert.equal(await store.isSafeMode(), true)
    assert.equal((await store.rankerPolicy()).epsilon, 0)
    assert.equal(await store.isEnabled(FLAG_KEYS.learning), false)
    const code = (store.status().lastError as { code?: string }).code
    assert.ok(
      ['ECONNREFUSED', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT', 'ECONNRESET'].includes(code ?? ''),
      `connection error, got ${code}`,
    )
  } finally {
    await admin`delete from public.feature_flags where key = ${key}`
    await admin.end()
    await sql.end({ timeout: 0 })
    await relay.cut()
  }
})
