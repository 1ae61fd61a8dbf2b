import assert from 'node:assert/strict'
import { parseEnv } from './env.ts'
import {
  createUsageMetrics,
  type UsageBatch,
  type UsageEvent,
  type UsageMetricsOptions,
} from './metrics.ts'
import { EnvError } from './settings.ts'

const PLATFORM = {
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_DB_URL: 'postgresql://postgres:postgres@127.0.0.1:54322/postgres',
  SUPABASE_ANON_KEY: 'anon-key',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role-key',
  JWT_SECRET: 'super-secret-jwt-token-with-at-least-32-characters-long',
}

/**
 * A webhook on 127.0.0.1 that keeps every batch posted to it. While `hold()` is in effect it
 * accepts requests and answers none of them, like a sink that hangs.
 */
function sink() {
  const batches: UsageBatch[] = []
  let held: Promise<void> | undefined
  let release = () => {}
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const batch = await req.json() as UsageBatch
    if (held) await held
    batches.push(batch)
    return new Response(null, { status: 204 })
  })
  return {
    url: `http://127.0.0.1:${server.addr.port}/ingest`,
    batches,
    events: () => batches.flatMap((b) => b.events),
    hold() {
      held = new Promise((resolve) => release = resolve)
    },
    release: () => (held = undefined, release()),
    close: () => server.shutdown(),
  }
}

function metricsWith(
  env: UsageMetricsOptions['env'],
  options: Partial<UsageMetricsOptions> = {},
) {
  const lines: UsageEvent[] = []
  const metrics = createUsageMetrics({
    functionName: 'queue-worker',
    env: { ENABLE_USAGE_METRICS: true, ...env },
    log: (line) => lines.push(JSON.parse(line)),
    lingerMs: 0,
    ...options,
  })
  return { metrics, lines }
}

const RUN = { topic: 'noop', processed: 3, errors: 1, duration_ms: 20 }

function envIssues(raw: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseEnv({ ...PLATFORM, ...raw })
  } catch (err) {
    assert.ok(err instanceof EnvError)
    return [...err.issues]
  }
  assert.fail('expected parseEnv to throw')
}

Deno.test('metrics settings parse with their defaults, and a bad sample rate is named', () => {
  const env = parseEnv(PLATFORM)
  assert.equal(env.ENABLE_USAGE_METRICS, false)
  assert.equal(env.METRICS_SOURCE, 'casfolio-web')
  assert.equal(env.METRICS_SAMPLE_RATE, 100)
  assert.equal(env.METRICS_WEBHOOK_URL, undefined)
  const on = parseEnv({
    ...PLATFORM,
    ENABLE_USAGE_METRICS: '1',
    METRICS_SOURCE: 'edge',
    METRICS_SAMPLE_RATE: '25',
    METRICS_WEBHOOK_URL: 'https://metrics.example.test/in',
  })
  assert.deepEqual(
    [on.ENABLE_USAGE_METRICS, on.METRICS_SOURCE, on.METRICS_SAMPLE_RATE, on.METRICS_WEBHOOK_URL],
    [true, 'edge', 25, 'https://metrics.example.test/in'],
  )
  for (
    const [value, message] of [
      ['0', 'must be between 1 and 100'],
      ['101', 'must be between 1 and 100'],
      ['12.5', 'must be an integer'],
      ['50%', 'must be an integer'],
      ['1e2', 'must be an integer'],
    ]
  ) {
    assert.deepEqual(envIssues({ METRICS_SAMPLE_RATE: value }), [
      { variable: 'METRICS_SAMPLE_RATE', message },
    ], value)
  }
  assert.deepEqual(envIssues({ ENABLE_USAGE_METRICS: 'yes' }), [
    { variable: 'ENABLE_USAGE_METRICS', message: 'must be 1 or 0' },
  ])
  assert.deepEqual(envIssues({ METRICS_WEBHOOK_URL: 'ftp://x' }), [
    { variable: 'METRICS_WEBHOOK_URL', message: 'must be an http(s) URL' },
  ])
})

Deno.test('with metrics off nothing is logged or posted', async () => {
  const lines: string[] = []
  let posts = 0
  const metrics = createUsageMetrics({
    functionName: 'queue-worker',
    env: { ENABLE_USAGE_METRICS: false, METRICS_WEBHOOK_URL: 'http://127.0.0.1:1/' },
    log: (line) => lines.push(line),
    fetch: () => (posts++, Promise.resolve(new Response())),
  })
  metrics.workerRun(RUN)
  metrics.emit('anything')
  await metrics.flush()
  assert.equal(metrics.enabled, false)
  assert.deepEqual([lines.length, posts], [0, 0])
})

Deno.test('each kept event is one JSON log line with source, function, event, time and props', () => {
  const now = () => Date.UTC(2026, 11, 2, 4, 5, 6)
  const { metrics, lines } = metricsWith({ METRICS_SOURCE: 'edge-test' }, { now })
  metrics.workerRun({ ...RUN, dead_lettered: 0 })
  metrics.storageOp({ op: 'upload', bucket: 'legacy', duration_ms: 41, ok: false, error: 'x' })
  assert.deepEqual(lines, [
    {
      type: 'usage_metric',
      source: 'edge-test',
      event: 'worker.run',
      function: 'queue-worker',
      at: '2026-12-02T04:05:06.000Z',
      props: { ...RUN, dead_lettered: 0 },
    },
    {
      type: 'usage_metric',
      source: 'edge-test',
      event: 'storage.op',
      function: 'queue-worker',
      at: '2026-12-02T04:05:06.000Z',
      props: { op: 'upload', bucket: 'legacy', duration_ms: 41, ok: false, error: 'x' },
    },
  ])
})

Deno.test('the sample rate is the percentage of events kept', () => {
  // A random source that walks 0.00, 0.01, … 0.99: exactly `rate` of every 100 draws are kept.
  let i = 0
  const random = () => (i++ % 100) / 100
  const { metrics, lines } = metricsWith({ METRICS_SAMPLE_RATE: 30 }, { random })
  for (let n = 0; n < 1000; n++) metrics.emit('tick', { n })
  assert.equal(lines.length, 300)
  assert.equal(metrics.stats.emitted, 300)
  assert.equal(metrics.stats.sampled_out, 700)
  // Rate 100 keeps everything without drawing at all.
  let draws = 0
  const all = metricsWith({ METRICS_SAMPLE_RATE: 100 }, { random: () => (draws++, 0.999) })
  for (let n = 0; n < 50; n++) all.metrics.emit('tick')
  assert.deepEqual([all.lines.length, draws], [50, 0])
})

Deno.test('with a webhook, events are posted in batches and all arrive', async () => {
  const hook = sink()
  try {
    const { metrics } = metricsWith({ METRICS_WEBHOOK_URL: hook.url }, { batchSize: 40 })
    for (let n = 0; n < 100; n++) metrics.emit('tick', { n })
    await metrics.flush()
    assert.deepEqual(hook.events().map((e) => e.props.n), Array.from({ length: 100 }, (_, n) => n))
    assert.ok(hook.batches.length <= 3, `${hook.batches.length} posts for 100 events`)
    assert.ok(hook.batches.every((b) => b.source === 'casfolio-web' && b.events.length <= 40))
    assert.equal(metrics.stats.sent, 100)
  } finally {
    await hook.close()
  }
})

Deno.test('a hanging webhook neither delays emit nor grows the buffer past its bound', async () => {
  const hook = sink()
  hook.hold()
  try {
    const { metrics, lines } = metricsWith(
      { METRICS_WEBHOOK_URL: hook.url },
      { maxBuffer: 10, batchSize: 5, timeoutMs: 200 },
    )
    metrics.emit('first')
    // Wait until the first post is open at the sink and hanging.
    while (metrics.stats.buffered > 0) await new Promise((r) => setTimeout(r, 1))
    for (let n = 0; n < 50; n++) metrics.emit('tick', { n })
    // Every emit returned at once and was logged, though the sink has answered nothing.
    assert.equal(lines.length, 51)
    assert.equal(hook.batches.length, 0)
    assert.equal(metrics.stats.buffered, 10)
    assert.equal(metrics.stats.dropped, 40)
    // The hung post times out and its event is lost; then the sink recovers.
    while (metrics.stats.failed === 0) await new Promise((r) => setTimeout(r, 5))
    hook.release()
    await metrics.flush()
    assert.equal(metrics.stats.failed, 1)
    assert.equal(metrics.stats.sent, 10)
  } finally {
    hook.release()
    await hook.close()
  }
})

Deno.test('a webhook that refuses or errors only counts failures, never throws', async () => {
  const { metrics } = metricsWith({ METRICS_WEBHOOK_URL: 'http://127.0.0.1:1/' })
  metrics.emit('tick')
  await metrics.flush()
  assert.equal(metrics.stats.failed, 1)
  const answers500 = metricsWith({ METRICS_WEBHOOK_URL: 'http://sink.test/' }, {
    fetch: () => Promise.resolve(new Response('no', { status: 500 })),
  })
  answers500.metrics.emit('tick')
  await answers500.metrics.flush()
  assert.equal(answers500.metrics.stats.failed, 1)
})

Deno.test('an event that cannot be serialised is dropped without throwing', () => {
  const { metrics, lines } = metricsWith({})
  const cyclic = { self: {} as unknown }
  cyclic.self = cyclic
  metrics.emit('bad', cyclic as never)
  metrics.emit('good')
  assert.deepEqual(lines.map((l) => l.event), ['good'])
})
